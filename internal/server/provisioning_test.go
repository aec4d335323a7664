package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/store"
)

// TestSCIMDeprovisioningEndsAccess: an agent signed in to the IdP is
// deprovisioned by a connector (Entra's PATCH active "False") through the
// served /scim/v2; their session ends, the Response path refuses them
// (IdP-initiated and launcher), and their password no longer signs in.
func TestSCIMDeprovisioningEndsAccess(t *testing.T) {
	h := newTestIdP(t, idpOptions{Provisioning: true})
	base := h.URL
	b := signedInBrowser(t, base, "agent@example.com", password)
	status, body := b.Get(base + "/sso/idp/flex")
	samltest.WantStatus(t, "IdP-initiated before", status, http.StatusOK, body)
	samltest.Form(t, body)

	_, token, err := h.Accounts.CreateToken(context.Background(), admin, accounts.NewToken{Name: "entra", Scopes: []accounts.Scope{accounts.ScopeSCIM}})
	if err != nil {
		t.Fatal(err)
	}
	u := h.user(t, "agent@example.com")
	req, _ := http.NewRequest("PATCH", base+"/scim/v2/Users/"+u.ID,
		strings.NewReader(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Request-Id") == "" {
		t.Fatalf("SCIM PATCH: %d (request ID %q): %s", resp.StatusCode, resp.Header.Get("X-Request-Id"), out)
	}
	if n := h.sessions(t, "agent@example.com"); n != 0 {
		t.Fatalf("%d sessions after deprovisioning, want 0", n)
	}
	status, body = b.Get(base + "/sso/idp/flex")
	if strings.Contains(body, "SAMLResponse") {
		t.Fatalf("IdP-initiated after deprovisioning posted a Response (%d)", status)
	}
	b2 := samltest.NewBrowser(t)
	_, page := b2.Get(base + "/login")
	status, body = b2.Login(base, page, "agent@example.com", password)
	if status == http.StatusOK && strings.Contains(body, "Your applications") {
		t.Fatal("a deprovisioned agent signed in with their password")
	}
	events, err := h.Store.ListAudit(context.Background(), store.AuditFilter{User: u.ID, Action: "admin.user.disable"})
	if err != nil || len(events) != 1 || events[0].Actor != "entra" || events[0].RemoteAddr == "" {
		t.Fatalf("disable events %+v (%v), want one by the token entra with its address", events, err)
	}
}

// scimRequest sends one SCIM request with token and returns the status
// and the decoded body.
func scimRequest(t *testing.T, base, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, base+"/scim/v2"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// TestSCIMGroupChangesTheResponse: a team's skills set once on a group
// through SCIM (the Flex group extension), and its membership pushed by
// the connector, change what the member's next Response carries (checked
// by crewjam/saml and xmlsec1); a second PATCH of the group changes it
// again for every member.
func TestSCIMGroupChangesTheResponse(t *testing.T) {
	h := newTestIdP(t, idpOptions{Provisioning: true})
	_, token, err := h.Accounts.CreateToken(context.Background(), admin, accounts.NewToken{Name: "okta", Scopes: []accounts.Scope{accounts.ScopeSCIM}})
	if err != nil {
		t.Fatal(err)
	}
	status, g := scimRequest(t, h.URL, token, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Spanish Sales",
		"urn:flexidp:params:scim:schemas:extension:flex:2.0:Group":{"team":"Sales-ES","attributes":{"skills.stringarray":["spanish","sales"],"channel.chat.capacity":3}}}`)
	if status != http.StatusCreated {
		t.Fatalf("create group: %d %v", status, g)
	}
	gid := g["id"].(string)
	agent := h.user(t, "agent@example.com")
	if status, m := scimRequest(t, h.URL, token, "PATCH", "/Groups/"+gid, `{"Operations":[{"op":"add","path":"members","value":[{"value":"`+agent.ID+`"}]}]}`); status != http.StatusOK {
		t.Fatalf("add member: %d %v", status, m)
	}
	sp := samltest.FlexSP(t, h.URL)
	b := samltest.NewBrowser(t)
	page, reqID := b.StartSignIn(sp)
	status, body := b.Login(h.URL, page, "agent@example.com", password)
	samltest.WantStatus(t, "login", status, http.StatusOK, body)
	form := samltest.Form(t, body)
	samltest.VerifyWithXmlsec(t, form.XML, h.certificate(t))
	got := samltest.Values(samltest.Accepts(t, sp, form, reqID))
	if strings.Join(got["skills.stringarray"], "|") != "spanish,sales" || strings.Join(got["team"], "") != "Sales-ES" ||
		strings.Join(got["channel.chat.capacity"], "") != "3" {
		t.Fatalf("Response of a member: %v, want the group's team, skills and capacity", got)
	}
	if status, m := scimRequest(t, h.URL, token, "PATCH", "/Groups/"+gid, `{"Operations":[{"op":"replace",
		"path":"urn:flexidp:params:scim:schemas:extension:flex:2.0:Group:attributes","value":{"skills.stringarray":["spanish","sales","chat"],"channel.chat.capacity":3}}]}`); status != http.StatusOK {
		t.Fatalf("change the group's skills: %d %v", status, m)
	}
	redirect, reqID := samltest.AuthnRedirect(t, sp, "", nil)
	status, body = b.Get(redirect)
	samltest.WantStatus(t, "SSO after the change", status, http.StatusOK, body)
	got = samltest.Values(samltest.Accepts(t, sp, samltest.Form(t, body), reqID))
	if strings.Join(got["skills.stringarray"], "|") != "spanish,sales,chat" {
		t.Fatalf("skills after the group changed: %v", got["skills.stringarray"])
	}
}

// TestSCIMMetricsClosedLabels: SCIM and API requests are counted under
// their route pattern, never under the user IDs, filters or garbage in
// their paths, so a connector cannot grow the metrics.
func TestSCIMMetricsClosedLabels(t *testing.T) {
	h := newTestIdP(t, idpOptions{Provisioning: true, MetricsToken: "metrics-secret-token-0123456789"})
	_, token, err := h.Accounts.CreateToken(context.Background(), admin, accounts.NewToken{Name: "okta", Scopes: []accounts.Scope{accounts.ScopeSCIM}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		scimRequest(t, h.URL, token, "GET", fmt.Sprintf("/Users/unknown-%d", i), "")
		scimRequest(t, h.URL, token, "GET", fmt.Sprintf("/Nope%d/x", i), "")
		scimRequest(t, h.URL, "", "GET", fmt.Sprintf("/Groups/%d", i), "")
	}
	req, _ := http.NewRequest("GET", h.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer metrics-secret-token-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	if !strings.Contains(text, `route="/scim/v2/Users/{id}"`) {
		t.Fatalf("no SCIM route pattern in the metrics:\n%.2000s", text)
	}
	for _, bad := range []string{"unknown-1", "Nope1", "Groups/1\""} {
		if strings.Contains(text, bad) {
			t.Fatalf("the metrics carry %q from a request path", bad)
		}
	}
}
