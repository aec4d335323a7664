package server_test

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// TestGroupsChangeTheResponse: adding a signed-in agent to a group changes
// what the next Response carries (the union of roles, the group's team,
// skills and chat capacity), as read by crewjam's SP and verified by
// xmlsec1; the user's own value wins over the group's. The SSO loads the
// user's groups in one store call however many groups there are. Groups
// that would give two different teams make the sign-in refused, with
// nothing sent.
func TestGroupsChangeTheResponse(t *testing.T) {
	cs := &countingStore{}
	h := newTestIdP(t, idpOptions{Wrap: func(s store.Store) store.Store { cs.Store = s; return cs }})
	ctx := context.Background()
	set := func(pairs ...string) attributes.Set {
		s, err := attributes.SetOf(pairs...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if _, err := h.Accounts.CreateGroup(ctx, admin, users.Group{Name: "Sales-ES", Roles: []string{"agent", "wfo.team_leader"},
		Team: "Sales-ES", Attributes: set("skills.stringarray", "spanish,sales", "channel.chat.capacity", "3", "department", "Sales")}); err != nil {
		t.Fatal(err)
	}
	if err := h.setAttrs("agent@example.com", "department=Support"); err != nil { // her own wins
		t.Fatal(err)
	}

	sp := samltest.FlexSP(t, h.URL)
	b := samltest.NewBrowser(t)
	page, reqID := b.StartSignIn(sp)
	status, body := b.Login(h.URL, page, "agent@example.com", password)
	samltest.WantStatus(t, "login", status, http.StatusOK, body)
	before := samltest.Values(samltest.Accepts(t, sp, samltest.Form(t, body), reqID))
	want := map[string][]string{"email": {"agent@example.com"}, "full_name": {"Alex Agent"}, "roles": {"agent"},
		"image_url": {"https://example.com/alex.png"}, "department": {"Support"}}
	if !reflect.DeepEqual(before, want) {
		t.Fatalf("before the group:\n got %v\nwant %v", before, want)
	}

	// sso answers a signed-in user: count its store calls.
	sso := func(what string) (map[string][]string, map[string]int) {
		t.Helper()
		redirect, reqID := samltest.AuthnRedirect(t, sp, "", nil)
		cs.take()
		status, body := b.Get(redirect)
		calls := tally(cs.take())
		samltest.WantStatus(t, what, status, http.StatusOK, body)
		form := samltest.Form(t, body)
		samltest.VerifyWithXmlsec(t, form.XML, h.certificate(t))
		return samltest.Values(samltest.Accepts(t, sp, form, reqID)), calls
	}
	_, callsNoGroup := sso("SSO without groups")
	t.Logf("store calls per SSO of a signed-in user without groups: %d %v", total(callsNoGroup), callsNoGroup)

	if err := h.Accounts.AddMembers(ctx, admin, "Sales-ES", "agent@example.com"); err != nil {
		t.Fatal(err)
	}
	got, calls := sso("SSO as a member")
	want["roles"] = []string{"agent,wfo.team_leader"}
	want["team"] = []string{"Sales-ES"}
	want["skills.stringarray"] = []string{"spanish,sales"}
	want["channel.chat.capacity"] = []string{"3"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("as a member of Sales-ES:\n got %v\nwant %v", got, want)
	}
	// The account page's "what Flex receives about you" says where from.
	_, page = b.Get(h.URL + "/account")
	samltest.MustContain(t, page, `<td class="source">group Sales-ES</td>`, `<td class="source">you</td>`, "agent, wfo.team_leader")
	// The groups come with the session and its user, in one read.
	if calls["GetSessionUser"] != 1 || calls["UserGroups"] != 0 {
		t.Errorf("the SSO read the session %d times and the groups apart %d times, want once and never: %v",
			calls["GetSessionUser"], calls["UserGroups"], calls)
	}

	// A second group adds its skills and no store call.
	if _, err := h.Accounts.CreateGroup(ctx, admin, users.Group{Name: "Chat", Attributes: set("skills.stringarray", "chat,sales")}); err != nil {
		t.Fatal(err)
	}
	if err := h.Accounts.AddMembers(ctx, admin, "Chat", "agent@example.com"); err != nil {
		t.Fatal(err)
	}
	got, callsTwo := sso("SSO as a member of two groups")
	want["skills.stringarray"] = []string{"chat,sales,spanish"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("as a member of two groups:\n got %v\nwant %v", got, want)
	}
	if total(callsTwo) != total(calls) {
		t.Errorf("store calls per SSO grew with the groups: one group %v, two %v", calls, callsTwo)
	}
	t.Logf("store calls per SSO of a signed-in user: %d with one group, %d with two", total(calls), total(callsTwo))

	// A conflict that reached the store (past the service's check) is
	// refused at sign-in, never silently picked.
	support, err := h.Accounts.CreateGroup(ctx, admin, users.Group{Name: "Support", Team: "Support"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Store.AddGroupMembers(ctx, support.ID, h.user(t, "agent@example.com").ID); err != nil {
		t.Fatal(err)
	}
	redirect, _ := samltest.AuthnRedirect(t, sp, "", nil)
	status, body = b.Get(redirect)
	if status != http.StatusUnprocessableEntity || strings.Contains(body, "SAMLResponse") {
		t.Fatalf("conflicting groups: status %d, want 422 without a Response\n%s", status, body)
	}
	samltest.MustContain(t, body, "conflicting values of team")
}

func total(calls map[string]int) int {
	n := 0
	for _, c := range calls {
		n += c
	}
	return n
}
