package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/flexidp/flexidp/internal/browsertest"
	"github.com/flexidp/flexidp/internal/keys"
	"github.com/flexidp/flexidp/internal/ldaptest"
	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/store/sqlite/sqlitetest"
)

// TestDirectoriesCommands: idp directories add|list|show|set|test|remove
// against a real slapd; the bind password never appears in output and is
// sealed at rest with IDP_KEY_ENCRYPTION_KEY.
func TestDirectoriesCommands(t *testing.T) {
	dir := ldaptest.Start(t)
	tmp := t.TempDir()
	db := filepath.Join(tmp, "idp.db")
	sqlitetest.Open(t, db).Close()
	ca := filepath.Join(tmp, "ca.pem")
	wrongPW := filepath.Join(tmp, "wrong")
	for name, b := range map[string][]byte{ca: dir.CAPEM, wrongPW: []byte("not-it\n")} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e := &testEnv{t: t, getenv: map[string]string{"IDP_DATABASE_URL": "sqlite://" + db,
		"IDP_KEY_ENCRYPTION_KEY": testKeyEncryptionKey, "IDP_DIRECTORY_BIND_PASSWORD": ldaptest.ServicePW}}

	if out := e.cli("", "directories", "list"); !strings.Contains(out, "no sources") {
		t.Errorf("list, empty: %s", out)
	}
	base := []string{"directories", "add", "--name", "corp", "--ca-file", ca, "--bind-dn", ldaptest.ServiceDN,
		"--user-base", ldaptest.UsersDN, "--group-base", ldaptest.GroupsDN, "--domains", "acme.test",
		"--map-group", ldaptest.AgentsDN + "=agents", "--map-group", ldaptest.FloorDN + "=floor"}
	if out := e.cliWant(1, "", append(base, "--url", dir.URL)...); !strings.Contains(out, "in the clear") {
		t.Errorf("plain LDAP without --allow-plain-ldap: %s", out)
	}
	if out := e.cliWant(1, "", append(base, "--url", dir.LDAPS, "--name", "Bad Name")...); !strings.Contains(out, "lower-case") {
		t.Errorf("bad name: %s", out)
	}
	if out := e.cli("", append(base, "--url", dir.LDAPS)...); !strings.Contains(out, "added source corp") {
		t.Errorf("add: %s", out)
	}
	if out := e.cli("", "directories", "list"); !strings.Contains(out, "corp") || !strings.Contains(out, "acme.test") {
		t.Errorf("list: %s", out)
	}
	show := e.cli("", "directories", "show", "--name", "corp")
	samltest.MustContain(t, show, "stored (never shown)", ldaptest.UsersDN, "group agents")
	probe := e.cli("", "directories", "test", "--name", "corp", "--user", "alice")
	samltest.MustContain(t, probe, ldaptest.AliceDN, "alice@acme.test", "agents, floor")

	if out := e.cli("", "directories", "set", "--name", "corp", "--unmap-group", ldaptest.FloorDN); !strings.Contains(out, "updated source corp") {
		t.Errorf("set: %s", out)
	}
	if out := e.cli("", "directories", "test", "--name", "corp", "--user", "alice"); !strings.Contains(out, "flexidp groups:    agents\n") {
		t.Errorf("unmapped group still mapped: %s", out)
	}
	if out := e.cliWant(1, "", "directories", "test", "--name", "corp", "--user", "carl"); !strings.Contains(out, "has no user") {
		t.Errorf("user outside the base: %s", out)
	}
	e.cli("", "directories", "set", "--name", "corp", "--bind-password-file", wrongPW)
	if out := e.cliWant(1, "", "directories", "test", "--name", "corp"); !strings.Contains(out, "could not be reached") {
		t.Errorf("wrong service password: %s", out)
	}

	st := sqlitetest.Open(t, db)
	d, err := st.GetDirectory(t.Context(), "corp")
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !keys.IsSealed(d.Secret) {
		t.Errorf("the bind password is not sealed at rest: %q", d.Secret)
	}
	trail := e.cli("", "audit", "search", "--action", "admin.directory")
	for _, out := range []string{show, probe, trail} {
		if strings.Contains(out, ldaptest.ServicePW) || strings.Contains(out, "not-it") {
			t.Errorf("output shows a password:\n%s", out)
		}
	}
	if out := e.cli("", "directories", "remove", "--name", "corp"); !strings.Contains(out, "removed source corp") {
		t.Errorf("remove: %s", out)
	}
	if out := e.cliWant(1, "", "directories", "show", "--name", "corp"); !strings.Contains(out, `There is no source named "corp"`) {
		t.Errorf("show after remove: %s", out)
	}
}

// TestDirectoriesCommandsOIDC: idp directories add --kind oidc against a
// real OpenID Provider (mockoidc): the client secret from a file, sealed
// at rest, never shown; the connection tested by discovery; LDAP flags
// refused on an OIDC source with a sentence.
func TestDirectoriesCommandsOIDC(t *testing.T) {
	op, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Shutdown() })
	tmp := t.TempDir()
	db := filepath.Join(tmp, "idp.db")
	sqlitetest.Open(t, db).Close()
	secretFile := filepath.Join(tmp, "secret")
	if err := os.WriteFile(secretFile, []byte(op.ClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, getenv: map[string]string{"IDP_DATABASE_URL": "sqlite://" + db, "IDP_KEY_ENCRYPTION_KEY": testKeyEncryptionKey,
		"IDP_BASE_URL": "https://idp.acme.test"}}
	add := []string{"directories", "add", "--kind", "oidc", "--name", "entra", "--issuer", op.Issuer(), "--client-id", op.ClientID,
		"--client-secret-file", secretFile, "--map-group", "0b1c2d3e-floor=agents", "--map-group", "role:Supervisor=supervisors"}
	if out := e.cliWant(1, "", add...); !strings.Contains(out, "give at least one") {
		t.Errorf("add without domains: %s", out)
	}
	out := e.cli("", append(add, "--domains", "acme.test")...)
	samltest.MustContain(t, out, "added source entra", "https://idp.acme.test/login/oidc/callback")
	if out := e.cliWant(1, "", "directories", "set", "--name", "entra", "--bind-dn", "cn=x"); !strings.Contains(out, "is an LDAP setting") {
		t.Errorf("an LDAP flag on an OIDC source: %s", out)
	}
	show := e.cli("", "directories", "show", "--name", "entra")
	samltest.MustContain(t, show, op.Issuer(), op.ClientID, "stored (never shown)", "group supervisors", "role:Supervisor")
	samltest.MustContain(t, e.cli("", "directories", "list"), "entra", "oidc", op.Issuer())
	samltest.MustContain(t, e.cli("", "directories", "test", "--name", "entra"), "source entra answers")
	trail := e.cli("", "audit", "search", "--action", "admin.directory")
	for _, out := range []string{show, trail} {
		if strings.Contains(out, op.ClientSecret) {
			t.Errorf("output shows the client secret:\n%s", out)
		}
	}
	st := sqlitetest.Open(t, db)
	d, err := st.GetDirectory(t.Context(), "entra")
	st.Close()
	if err != nil || !keys.IsSealed(d.Secret) {
		t.Errorf("the client secret is not sealed at rest: %q, %v", d.Secret, err)
	}
}

// TestBrowserDirectorySignIn: with a source configured, the login page
// in Chromium asks for the email, then for the source's password, and
// signs the agent in; both steps pass the axe-core scan.
func TestBrowserDirectorySignIn(t *testing.T) {
	browsertest.RequireAxe(t)
	dir := ldaptest.Start(t)
	ctx := newChromium(t)
	tmp := t.TempDir()
	db := filepath.Join(tmp, "idp.db")
	sqlitetest.Open(t, db).Close()
	ca := filepath.Join(tmp, "ca.pem")
	if err := os.WriteFile(ca, dir.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, getenv: map[string]string{"IDP_DATABASE_URL": "sqlite://" + db, "IDP_DIRECTORY_BIND_PASSWORD": ldaptest.ServicePW}}
	e.cli("", "directories", "add", "--name", "corp", "--url", dir.LDAPS, "--ca-file", ca, "--bind-dn", ldaptest.ServiceDN,
		"--user-base", ldaptest.UsersDN, "--domains", "acme.test")
	base := e.startServe()

	steps := []struct {
		page    string
		actions []chromedp.Action[chromedp.Void]
	}{
		{"login, email first", []chromedp.Action[chromedp.Void]{chromedp.Navigate(base + "/login"), chromedp.WaitVisible(chromedp.ID("email"))}},
		{"login, directory password", []chromedp.Action[chromedp.Void]{chromedp.SendKeys(chromedp.ID("email"), "alice@acme.test"),
			chromedp.Click(submit), chromedp.WaitVisible(chromedp.ID("password-hint"))}},
	}
	for _, s := range steps {
		if err := chromedp.Do(ctx, s.actions...); err != nil {
			t.Fatalf("%s: %v", s.page, err)
		}
		browsertest.AssertAccessible(ctx, t, s.page)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("password"), ldaptest.AlicePW), chromedp.Click(submit),
		chromedp.WaitVisible(chromedp.ID("mfa-setup"))); err != nil {
		t.Fatalf("directory sign-in in Chromium: %v", err)
	}
}

// TestBrowserOIDCSignIn: with an OpenID Provider configured (mockoidc),
// the login page in Chromium offers "Continue with entra"; the agent
// goes there and comes back signed in; a refusal (a domain the source
// does not sign in) is a page saying why. Each page passes axe-core.
func TestBrowserOIDCSignIn(t *testing.T) {
	browsertest.RequireAxe(t)
	op, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Shutdown() })
	ctx := newChromium(t)
	tmp := t.TempDir()
	db := filepath.Join(tmp, "idp.db")
	sqlitetest.Open(t, db).Close()
	e := &testEnv{t: t, getenv: map[string]string{"IDP_DATABASE_URL": "sqlite://" + db, "IDP_DIRECTORY_CLIENT_SECRET": op.ClientSecret}}
	e.cli("", "directories", "add", "--kind", "oidc", "--name", "entra", "--issuer", op.Issuer(), "--client-id", op.ClientID,
		"--domains", "acme.test")
	base := e.startServe()
	continueWith := chromedp.CSS(`form[action="/login/oidc"] button`)

	op.QueueUser(&mockoidc.MockUser{Subject: "mallory", Email: "mallory@evil.test", EmailVerified: true})
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/login"), chromedp.WaitVisible(continueWith)); err != nil {
		t.Fatalf("login page: %v", err)
	}
	browsertest.AssertAccessible(ctx, t, "login, continue with a provider")
	if err := chromedp.Do(ctx, chromedp.Click(continueWith), chromedp.WaitVisible(chromedp.CSS(`p.error`))); err != nil {
		t.Fatalf("refused at the provider's return: %v", err)
	}
	msg := browserValue(ctx, t, chromedp.Text(chromedp.CSS(".error")))
	samltest.MustContain(t, msg, "Signing in with entra did not work", "not in a domain this source signs in")
	browsertest.AssertAccessible(ctx, t, "login, provider's sign-in refused")

	op.QueueUser(&mockoidc.MockUser{Subject: "alice", Email: "alice@acme.test", EmailVerified: true})
	if err := chromedp.Do(ctx, chromedp.Click(continueWith), chromedp.WaitVisible(chromedp.ID("mfa-setup"))); err != nil {
		t.Fatalf("sign-in through the provider in Chromium: %v", err)
	}
}
