package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// dirState is what a refused change must leave alone: the stored
// sources (their secrets too) and the directory audit events.
func (h *testIdP) dirState(t *testing.T) string {
	t.Helper()
	ds, err := h.Store.ListDirectories(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%+v|%d", ds, len(h.audit(t, store.AuditFilter{Action: "admin.directory"})))
}

// TestConsoleDirectories: an owner adds an LDAP source and an OpenID
// Connect source from the console; the secrets are stored sealed (never
// in the clear) and appear in no page; each change is audited with the
// console user as the actor; a bad setting is a 400 with its sentence
// and changes nothing; Test connection shows the service's sentence;
// removal needs the typed name. A manager and a viewer get 403 on every
// page and form, and a post without the CSRF token is refused; nothing
// changes.
func TestConsoleDirectories(t *testing.T) {
	h := newTestIdP(t, idpOptions{KeyEncryptionKey: "0123456789abcdef0123456789abcdef"})
	h.consoleUser(t, "owner@example.com", users.ConsoleOwner)
	h.consoleUser(t, "manager@example.com", users.ConsoleManager)
	h.consoleUser(t, "viewer@example.com", users.ConsoleViewer)
	ctx := context.Background()
	const bindPassword, clientSecret = "Bind-Pa55word-in-the-clear", "Client-5ecret-in-the-clear"
	ldapForm := url.Values{"kind": {"ldap"}, "name": {"corp"}, "domains": {"acme.com"}, "urls": {"ldap://127.0.0.1:1"},
		"allow_plain": {"on"}, "bind_dn": {"CN=flexidp,OU=Service,DC=acme,DC=com"}, "secret": {bindPassword},
		"user_base": {"DC=acme,DC=com"}, "timeout": {"1"}, "groups": {"CN=Agents,OU=Groups,DC=acme,DC=com = agents"}}

	owner := h.consoleSignIn(t, "owner@example.com", nil)
	// Signed in before any source exists (an OpenID source makes the
	// sign-in page ask for the email first).
	others := map[string]*consoleBrowser{"manager@example.com": h.consoleSignIn(t, "manager@example.com", nil),
		"viewer@example.com": h.consoleSignIn(t, "viewer@example.com", nil)}
	var pages []string
	seen := func(body string) string { pages = append(pages, body); return body }
	status, body := owner.get("/admin/directories?add=ldap")
	samltest.WantStatus(t, "add an LDAP source page", status, http.StatusOK, seen(body))
	samltest.MustContain(t, body, `id="directory-form"`, `name="bind_dn"`)

	// A setting the service refuses: the sentence, the form as sent
	// without its secret, nothing stored.
	before := h.dirState(t)
	bad := cloneForm(ldapForm)
	bad.Set("urls", "http://dc1.acme.com")
	status, body = owner.change("/admin/directories?add=ldap", "/admin/directories", bad)
	samltest.WantStatus(t, "bad server URL", status, http.StatusBadRequest, seen(body))
	samltest.MustContain(t, body, "is not ldaps://host[:port] or ldap://host[:port]", `value="DC=acme,DC=com"`)
	if h.dirState(t) != before {
		t.Fatal("a refused source was stored")
	}

	status, body = owner.change("/admin/directories?add=ldap", "/admin/directories", cloneForm(ldapForm))
	samltest.WantStatus(t, "add an LDAP source", status, http.StatusOK, seen(body))
	samltest.MustContain(t, body, "The source is added.", `id="directory-test"`)
	stored, err := h.Store.GetDirectory(ctx, "corp")
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.Secret) == 0 || bytes.Contains(stored.Secret, []byte(bindPassword)) || strings.Contains(stored.Config, bindPassword) {
		t.Fatalf("the bind password is not sealed at rest: %q", stored.Secret)
	}
	if ev, _ := h.Store.ListAudit(ctx, store.AuditFilter{Action: "admin.directory.add", Limit: 1}); len(ev) != 1 || ev[0].Actor != "owner@example.com" {
		t.Fatalf("the addition is not audited with the console user as the actor: %+v", ev)
	}

	// An edit without a new secret keeps the sealed one.
	edit := cloneForm(ldapForm)
	edit.Del("secret")
	edit.Set("domains", "acme.com, acme.co.uk")
	status, body = owner.change("/admin/directories/corp", "/admin/directories/corp", edit)
	samltest.WantStatus(t, "edit the source", status, http.StatusOK, seen(body))
	samltest.MustContain(t, body, "settings are saved.", "acme.co.uk")
	if after, _ := h.Store.GetDirectory(ctx, "corp"); !bytes.Equal(after.Secret, stored.Secret) || len(after.Domains) != 2 {
		t.Fatalf("the edit changed the secret or lost the domains: %+v", after)
	}
	if ev, _ := h.Store.ListAudit(ctx, store.AuditFilter{Action: "admin.directory.update", Actor: "owner@example.com"}); len(ev) != 1 {
		t.Fatalf("the edit is not audited: %+v", ev)
	}

	// Test connection: nothing listens there; the service's sentence.
	status, body = owner.change("/admin/directories/corp", "/admin/directories/corp/test", nil)
	samltest.WantStatus(t, "test connection", status, http.StatusOK, seen(body))
	samltest.MustContain(t, body, `id="test-result"`, "The source corp could not be reached")

	status, body = owner.change("/admin/directories?add=oidc", "/admin/directories", url.Values{"kind": {"oidc"}, "name": {"google"},
		"domains": {"acme.org"}, "issuer": {"https://accounts.google.com"}, "client_id": {"flexidp"}, "secret": {clientSecret}})
	samltest.WantStatus(t, "add an OIDC source", status, http.StatusOK, seen(body))
	if d, err := h.Store.GetDirectory(ctx, "google"); err != nil || len(d.Secret) == 0 || bytes.Contains(d.Secret, []byte(clientSecret)) {
		t.Fatalf("the client secret is not sealed at rest: %+v %v", d, err)
	}
	for _, path := range []string{"/admin/directories", "/admin/directories/corp", "/admin/directories/google", "/admin/audit"} {
		status, body := owner.get(path)
		samltest.WantStatus(t, path, status, http.StatusOK, seen(body))
	}
	samltest.MustContain(t, pages[len(pages)-4], "ldap://127.0.0.1:1", "https://accounts.google.com", "acme.co.uk")
	for _, p := range pages {
		if strings.Contains(p, bindPassword) || strings.Contains(p, clientSecret) {
			t.Fatalf("a page shows a secret:\n%s", p)
		}
	}

	// Refusals: manager and viewer (403 on every page and form), a post
	// without the CSRF token; nothing changes.
	before = h.dirState(t)
	posts := map[string]url.Values{"/admin/directories": cloneForm(ldapForm), "/admin/directories/corp": edit,
		"/admin/directories/corp/test": {}, "/admin/directories/corp/remove": {"confirm": {"corp"}}}
	for email, b := range others {
		for _, path := range []string{"/admin/directories", "/admin/directories?add=ldap", "/admin/directories/corp"} {
			status, body := b.get(path)
			samltest.WantStatus(t, email+" opens "+path, status, http.StatusForbidden, body)
		}
		if _, home := b.get("/admin"); strings.Contains(home, `href="/admin/directories"`) {
			t.Fatalf("%s is shown the Directories page in the navigation", email)
		}
		for path, form := range posts {
			status, body := b.change("/admin", path, cloneForm(form))
			samltest.WantStatus(t, email+" posts "+path, status, http.StatusForbidden, body)
			samltest.MustContain(t, body, "does not allow this. Nothing was changed.")
		}
	}
	for path, form := range posts {
		f := cloneForm(form)
		f.Del("csrf")
		status, body := owner.post(path, f) // same origin, no CSRF token
		samltest.WantStatus(t, "no CSRF token on "+path, status, http.StatusForbidden, body)
	}
	if h.dirState(t) != before {
		t.Fatal("a refused post changed a source")
	}

	// Removal needs the typed name.
	status, body = owner.change("/admin/directories/corp", "/admin/directories/corp/remove", url.Values{"confirm": {"other"}})
	samltest.WantStatus(t, "remove without confirmation", status, http.StatusBadRequest, body)
	samltest.MustContain(t, body, "to confirm its removal. Nothing was removed.")
	status, body = owner.change("/admin/directories/corp", "/admin/directories/corp/remove", url.Values{"confirm": {"corp"}})
	samltest.WantStatus(t, "remove", status, http.StatusOK, body)
	samltest.MustContain(t, body, "The source is removed")
	if _, err := h.Store.GetDirectory(ctx, "corp"); err == nil {
		t.Fatal("the source was not removed")
	}
	if ev, _ := h.Store.ListAudit(ctx, store.AuditFilter{Action: "admin.directory.remove", Actor: "owner@example.com"}); len(ev) != 1 {
		t.Fatalf("the removal is not audited: %+v", ev)
	}
}

// TestConsoleDirectoriesReverify: a source changed more than
// accounts.ReverifyAfter after the last proof sends the owner to
// re-verify first; nothing is stored meanwhile.
func TestConsoleDirectoriesReverify(t *testing.T) {
	clk := newClock()
	h := newTestIdP(t, idpOptions{Now: clk.Now, KeyEncryptionKey: "0123456789abcdef0123456789abcdef"})
	h.consoleUser(t, "owner@example.com", users.ConsoleOwner)
	b := h.consoleSignIn(t, "owner@example.com", clk.Now)
	clk.Add(accounts.ReverifyAfter + time.Second)
	before := h.dirState(t)
	status, body := b.change("/admin/directories?add=oidc", "/admin/directories", url.Values{"kind": {"oidc"}, "name": {"google"},
		"domains": {"acme.org"}, "issuer": {"https://accounts.google.com"}, "client_id": {"flexidp"}, "secret": {"s3cret"}})
	samltest.WantStatus(t, "stale add", status, http.StatusOK, body)
	samltest.MustContain(t, body, "Confirm it is you")
	if h.dirState(t) != before {
		t.Fatal("a stale change stored a source")
	}
}
