package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

var bearerRE = regexp.MustCompile(`fidp_[0-9a-f]{16}_[A-Za-z0-9_-]{43}`)

// tokensSnapshot is what a refused token change must leave alone: the
// stored tokens and the audit trail's length.
func (h *testIdP) tokensSnapshot(t *testing.T) string {
	t.Helper()
	list, err := h.Accounts.ListTokens(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%+v|%d", list, len(h.audit(t, store.AuditFilter{})))
}

// TestConsoleTokensPage: an owner creates an API token in the console and
// sees its bearer string once, in the response of the POST (the list,
// reloaded, never shows it, and the store keeps only its hash); the token
// then authenticates a SCIM request, and the list shows when it was last
// used. Bad input is refused next to the form. A manager and a viewer get
// 403 on every token route and change nothing; a POST without the CSRF
// token is refused. Revoking (after a confirmation page) makes the token
// get 401.
func TestConsoleTokensPage(t *testing.T) {
	h := newTestIdP(t, idpOptions{Provisioning: true})
	h.consoleUser(t, "owner@example.com", users.ConsoleOwner)
	h.consoleUser(t, "manager@example.com", users.ConsoleManager)
	h.consoleUser(t, "viewer@example.com", users.ConsoleViewer)
	b := h.consoleSignIn(t, "owner@example.com", nil)

	status, body := b.get("/admin/tokens")
	samltest.WantStatus(t, "tokens page", status, http.StatusOK, body)
	samltest.MustContain(t, body, "No API token yet.", `href="/admin/tokens"`, `id="new-token-form"`,
		`name="scope" type="checkbox" value="scim"`, `value="users:read"`, `value="audit:read"`)

	// Refused creations: the sentence next to the form, nothing stored.
	before := h.tokensSnapshot(t)
	for _, c := range []struct {
		name   string
		form   url.Values
		status int
		want   string
	}{
		{"no scope", url.Values{"name": {"entra"}, "days": {"30"}}, http.StatusBadRequest, "at least one scope"},
		{"unknown scope", url.Values{"name": {"entra"}, "scope": {"root"}, "days": {"30"}}, http.StatusBadRequest, "is not a scope"},
		{"bad name", url.Values{"name": {"my token"}, "scope": {"scim"}, "days": {"30"}}, http.StatusBadRequest, "is not a token name"},
		{"days not a number", url.Values{"name": {"entra"}, "scope": {"scim"}, "days": {"soon"}}, http.StatusBadRequest, "number of days"},
		{"too long", url.Values{"name": {"entra"}, "scope": {"scim"}, "days": {"10000"}}, http.StatusBadRequest, "must expire between"},
	} {
		status, body := b.change("/admin/tokens", "/admin/tokens", c.form)
		samltest.WantStatus(t, c.name, status, c.status, body)
		samltest.MustContain(t, body, `id="new-token-error"`, c.want)
		if bearerRE.MatchString(body) {
			t.Fatalf("%s: a refused creation shows a token", c.name)
		}
	}
	if h.tokensSnapshot(t) != before {
		t.Fatal("a refused creation changed the tokens or the audit trail")
	}

	// A CSRF-less POST (same origin) is refused.
	status, body = b.post("/admin/tokens", url.Values{"name": {"entra"}, "scope": {"scim"}, "days": {"30"}})
	samltest.WantStatus(t, "create without CSRF", status, http.StatusForbidden, body)
	if h.tokensSnapshot(t) != before {
		t.Fatal("a POST without the CSRF token created a token")
	}

	// Created: the bearer string is in this response only.
	status, body = b.change("/admin/tokens", "/admin/tokens", url.Values{"name": {"entra"}, "scope": {"scim", "users:read"}, "days": {"30"}})
	samltest.WantStatus(t, "create", status, http.StatusOK, body)
	samltest.MustContain(t, body, `id="token-secret"`, "shown only now", "<code>scim</code>, <code>users:read</code>")
	bearer := bearerRE.FindString(body)
	if bearer == "" {
		t.Fatalf("the creation response shows no token:\n%s", body)
	}
	secret := bearer[len(bearer)-43:]
	list, err := h.Accounts.ListTokens(context.Background())
	if err != nil || len(list) != 1 {
		t.Fatalf("tokens %+v (%v), want one", list, err)
	}
	tok := list[0]
	if strings.Contains(fmt.Sprintf("%+v", tok), secret) || tok.CreatedBy != "owner@example.com" || strings.Join(tok.Scopes, ",") != "scim,users:read" {
		t.Fatalf("stored token %+v: want the owner, both scopes and no secret in clear", tok)
	}
	if ev, err := h.Store.ListAudit(context.Background(), store.AuditFilter{Action: "admin.token.create"}); err != nil || len(ev) != 1 || ev[0].Actor != "owner@example.com" || strings.Contains(string(ev[0].Details), secret) {
		t.Fatalf("creation audit %+v", ev)
	}
	status, body = b.get("/admin/tokens")
	samltest.WantStatus(t, "list after create", status, http.StatusOK, body)
	samltest.MustContain(t, body, `<th scope="row">entra</th>`, "never", `href="/admin/tokens/`+tok.ID+`/revoke"`)
	if strings.Contains(body, secret) || bearerRE.MatchString(body) {
		t.Fatal("the reloaded list shows the token's secret")
	}

	// The token authenticates SCIM; the list shows its last use.
	if status, out := scimRequest(t, h.URL, bearer, http.MethodGet, "/Users", ""); status != http.StatusOK {
		t.Fatalf("SCIM with the console's token: %d %v", status, out)
	}
	_, body = b.get("/admin/tokens")
	if strings.Contains(body, "<td>never</td>") {
		t.Fatal("the list does not show the token's last use")
	}

	// A manager and a viewer: 403 everywhere, no nav entry, nothing changed.
	others := map[string]*consoleBrowser{}
	for _, email := range []string{"manager@example.com", "viewer@example.com"} {
		others[email] = h.consoleSignIn(t, email, nil)
	}
	before = h.tokensSnapshot(t)
	for email, o := range others {
		if _, home := o.get("/admin"); strings.Contains(home, `href="/admin/tokens"`) {
			t.Errorf("%s is shown the API tokens entry", email)
		}
		for _, path := range []string{"/admin/tokens", "/admin/tokens/" + tok.ID + "/revoke"} {
			status, body := o.get(path)
			samltest.WantStatus(t, email+" GET "+path, status, http.StatusForbidden, body)
		}
		status, body := o.change("/admin", "/admin/tokens", url.Values{"name": {"sneaky"}, "scope": {"scim"}, "days": {"30"}})
		samltest.WantStatus(t, email+" creates", status, http.StatusForbidden, body)
		status, body = o.change("/admin", "/admin/tokens/"+tok.ID+"/revoke", nil)
		samltest.WantStatus(t, email+" revokes", status, http.StatusForbidden, body)
		if bearerRE.MatchString(body) {
			t.Fatalf("%s was shown a token", email)
		}
	}
	if h.tokensSnapshot(t) != before {
		t.Fatal("a manager or a viewer changed the tokens")
	}

	// Revoke: a confirmation page, then the POST; the token gets 401.
	status, body = b.get("/admin/tokens/" + tok.ID + "/revoke")
	samltest.WantStatus(t, "revoke confirmation", status, http.StatusOK, body)
	samltest.MustContain(t, body, `id="token-revoke"`, "Revoke entra")
	if got, _ := h.Accounts.ListTokens(context.Background()); !got[0].RevokedAt.IsZero() {
		t.Fatal("the confirmation page revoked the token")
	}
	status, body = b.change("/admin/tokens/"+tok.ID+"/revoke", "/admin/tokens/"+tok.ID+"/revoke", nil)
	samltest.WantStatus(t, "revoke", status, http.StatusOK, body)
	samltest.MustContain(t, body, "The API token is revoked")
	if strings.Contains(body, `href="/admin/tokens/`+tok.ID+`/revoke"`) {
		t.Fatal("a revoked token is still offered for revocation")
	}
	if status, out := scimRequest(t, h.URL, bearer, http.MethodGet, "/Users", ""); status != http.StatusUnauthorized {
		t.Fatalf("SCIM with a revoked token: %d %v, want 401", status, out)
	}
	status, body = b.get("/admin/tokens/0000000000000000/revoke")
	samltest.WantStatus(t, "unknown token", status, http.StatusNotFound, body)
}

// TestConsoleTokensReverify: creating or revoking an API token more than
// accounts.ReverifyAfter after the owner's last proof sends them to
// re-verify, and nothing is created or revoked meanwhile.
func TestConsoleTokensReverify(t *testing.T) {
	clk := newClock()
	h := newTestIdP(t, idpOptions{Now: clk.Now})
	h.consoleUser(t, "owner@example.com", users.ConsoleOwner)
	b := h.consoleSignIn(t, "owner@example.com", clk.Now)
	if _, _, err := h.Accounts.CreateToken(context.Background(), admin, accounts.NewToken{Name: "okta", Scopes: []accounts.Scope{accounts.ScopeSCIM}}); err != nil {
		t.Fatal(err)
	}
	list, _ := h.Accounts.ListTokens(context.Background())
	clk.Add(accounts.ReverifyAfter + time.Second)
	before := h.tokensSnapshot(t)
	for _, c := range []struct {
		path string
		form url.Values
	}{
		{"/admin/tokens", url.Values{"name": {"entra"}, "scope": {"scim"}, "days": {"30"}}},
		{"/admin/tokens/" + list[0].ID + "/revoke", nil},
	} {
		status, body := b.change("/admin/tokens", c.path, c.form)
		samltest.WantStatus(t, "stale "+c.path, status, http.StatusOK, body)
		samltest.MustContain(t, body, "Confirm it is you", `name="next" value="/admin/tokens"`)
		if bearerRE.MatchString(body) {
			t.Fatal("a stale creation showed a token")
		}
	}
	if h.tokensSnapshot(t) != before {
		t.Fatal("a stale token change changed something")
	}
}
