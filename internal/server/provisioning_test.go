package server_test

import (
	"context"
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
