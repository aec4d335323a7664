package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/users"
)

// TestConsoleGroupsPage: an owner creates a group with roles, a team and
// typed attributes, adds a member, and the member's page and Response
// preview change; a bad attribute and a conflicting member are refused
// with their sentence next to the form and change nothing; a viewer sees
// the group but changes nothing (403); deleting the group takes what it
// gave.
func TestConsoleGroupsPage(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	h.consoleUser(t, "owner@example.com", users.ConsoleOwner)
	h.consoleUser(t, "viewer@example.com", users.ConsoleViewer)
	b := h.consoleSignIn(t, "owner@example.com", nil)

	status, body := b.get("/admin/groups")
	samltest.WantStatus(t, "groups page", status, http.StatusOK, body)
	samltest.MustContain(t, body, "No group yet.", `id="new-group-form"`, `href="/admin/groups"`)

	bad := url.Values{"name": {"Sales-ES"}, "attributes": {"channel.chat.capacity=-1"}}
	status, body = b.change("/admin/groups", "/admin/groups", bad)
	samltest.WantStatus(t, "bad attribute", status, http.StatusBadRequest, body)
	samltest.MustContain(t, body, `id="new-group-error"`, "channel.chat.capacity", "negative")

	status, body = b.change("/admin/groups", "/admin/groups", url.Values{"name": {"Sales-ES"}, "roles": {"agent, wfo.team_leader"},
		"team": {"Sales-ES"}, "attributes": {"skills.stringarray=spanish,sales\r\nchannel.chat.capacity=3"}})
	samltest.WantStatus(t, "create", status, http.StatusOK, body)
	samltest.MustContain(t, body, "The group is created.", `value="Sales-ES"`, "skills.stringarray=spanish,sales")
	g, err := h.Accounts.GetGroup(t.Context(), "Sales-ES")
	if err != nil {
		t.Fatal(err)
	}
	page := "/admin/groups/" + g.ID

	status, body = b.change(page, page+"/members", url.Values{"emails": {"agent@example.com, nobody@example.com"}})
	samltest.WantStatus(t, "unknown member", status, http.StatusNotFound, body)
	samltest.MustContain(t, body, `id="members-error"`, "nobody@example.com")
	status, body = b.change(page, page+"/members", url.Values{"emails": {"agent@example.com"}})
	samltest.WantStatus(t, "add", status, http.StatusOK, body)
	samltest.MustContain(t, body, "The members are saved", `href="/admin/users/`+h.user(t, "agent@example.com").ID+`">agent@example.com`)

	// The member's page shows what Flex now receives.
	_, body = b.get("/admin/users/" + h.user(t, "agent@example.com").ID)
	samltest.MustContain(t, body, `<th scope="row">team</th><td><span class="value">Sales-ES</span>`,
		`<th scope="row">channel.chat.capacity</th><td><span class="value">3</span>`)

	// A second group with another team: adding the agent is a conflict.
	if _, err := h.Accounts.CreateGroup(t.Context(), admin, users.Group{Name: "Support", Team: "Support"}); err != nil {
		t.Fatal(err)
	}
	support, _ := h.Accounts.GetGroup(t.Context(), "Support")
	sp := "/admin/groups/" + support.ID
	status, body = b.change(sp, sp+"/members", url.Values{"emails": {"agent@example.com"}})
	samltest.WantStatus(t, "conflict", status, http.StatusConflict, body)
	samltest.MustContain(t, body, `id="members-error"`, "agent@example.com would receive conflicting values of team")
	if members, _ := h.Accounts.GroupMembers(t.Context(), "Support"); len(members) != 0 {
		t.Fatalf("a refused add added %d members", len(members))
	}

	// A viewer reads, and changes nothing.
	v := h.consoleSignIn(t, "viewer@example.com", nil)
	status, body = v.get(page)
	samltest.WantStatus(t, "viewer reads", status, http.StatusOK, body)
	if strings.Contains(body, `id="group-form"`) || !strings.Contains(body, "agent@example.com") {
		t.Fatalf("viewer's group page:\n%s", body)
	}
	status, _ = v.change(page, page+"/members/remove", url.Values{"user": {h.user(t, "agent@example.com").ID}})
	if status != http.StatusForbidden {
		t.Fatalf("viewer removed a member: status %d", status)
	}

	status, body = b.change(page, page+"/delete", nil)
	samltest.WantStatus(t, "delete", status, http.StatusOK, body)
	samltest.MustContain(t, body, "The group is deleted")
	_, body = b.get("/admin/users/" + h.user(t, "agent@example.com").ID)
	if strings.Contains(body, `<th scope="row">team</th>`) {
		t.Fatal("the deleted group's team is still released")
	}
}
