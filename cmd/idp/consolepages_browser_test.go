package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flexidp/flexidp/internal/browsertest"
	"github.com/flexidp/flexidp/internal/mfa"
)

// signInConsole signs email (a console user with the password password
// and no second factor yet) in to the admin console in Chromium: the
// password, the TOTP enrolment the console requires, the recovery codes,
// and the console's home page.
func signInConsole(ctx context.Context, t *testing.T, base, email string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/admin/login"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(submit),
		chromedp.WaitVisible(chromedp.ID("secret")),
	)
	if err != nil {
		t.Fatalf("console password: %v", err)
	}
	secret := browserValue(ctx, t, chromedp.Text(chromedp.ID("secret")))
	code, err := mfa.Code(strings.ReplaceAll(secret, " ", ""), time.Now())
	if err != nil {
		t.Fatalf("TOTP code for %q: %v", secret, err)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("code"), code),
		chromedp.Click(submit),
		chromedp.WaitVisible(chromedp.ID("recovery-codes")),
		chromedp.Click(submit),
		chromedp.WaitVisible(chromedp.ID("home-welcome")),
	)
	if err != nil {
		t.Fatalf("console enrolment: %v", err)
	}
}

// TestBrowserConsolePages drives the console's Import, Service providers,
// Keys, API tokens and Audit log pages in Chromium, as an owner who only clicks: an
// import with one bad row shows the line and writes nothing, a good file
// is applied; a next key is added and activated (the page shows the
// Twilio Console steps and the certificate the server now publishes); an
// API token is created (its secret shown once) and revoked after the
// confirmation. Every page is scanned with axe-core (no serious or critical violation).
// With FLEXIDP_SCREENSHOTS=dir it saves console-import.png,
// console-sps.png, console-keys.png, console-tokens.png and console-audit.png there
// (docs/screenshots/ is made that way).
func TestBrowserConsolePages(t *testing.T) {
	browsertest.RequireAxe(t)
	ctx := newChromium(t)
	e := newTestEnv(t)
	setupFlex(t, e)
	e.cli("", "users", "grant", "--email", "Sam.Supervisor@Example.com", "--console", "owner")
	base := e.startServe()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil { // an administrator's screen
		t.Fatal(err)
	}
	signInConsole(ctx, t, base, "sam.supervisor@example.com")

	shots := os.Getenv("FLEXIDP_SCREENSHOTS")
	shot := func(name string) {
		t.Helper()
		if shots == "" {
			return
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	do := func(page string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", page, err)
		}
		browsertest.AssertAccessible(ctx, t, page)
	}
	text := func(sel string) string {
		t.Helper()
		return browserValue(ctx, t, chromedp.Text(chromedp.CSS(sel)))
	}
	dir := t.TempDir()
	file := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	usersList := func() string { t.Helper(); return e.cli("", "users", "list") }

	// Import: one bad row (line 3) is shown with its field and reason, and
	// nothing is written.
	before := usersList()
	bad := file("bad.csv", "email,full_name,roles,team\nnew1@example.com,New One,agent,Blue\nnew2@example.com,New Two,superviser,Blue\n")
	do("import", chromedp.Navigate(base+"/admin/import"), chromedp.WaitVisible(chromedp.ID("import-limit")))
	do("import dry run with a bad row",
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{bad}),
		chromedp.Click(chromedp.CSS("#import-form button")),
		chromedp.WaitVisible(chromedp.ID("import-problems")))
	shot("console-import.png")
	if got := text("#import-problems tbody tr"); !strings.Contains(got, "3") || !strings.Contains(got, "roles") || !strings.Contains(got, "supervisor") {
		t.Errorf("the problem row reads %q; want line 3, roles and the suggestion", got)
	}
	if n := browserValue(ctx, t, chromedp.Evaluate[int](`document.querySelectorAll("#import-apply").length`)); n != 0 {
		t.Error("the dry run of a file with a bad row offers to apply it")
	}
	if after := usersList(); after != before {
		t.Fatalf("the file with a bad row changed the users:\n%s\nwas\n%s", after, before)
	}
	// A good file: applied.
	good := file("good.csv", "email,full_name,roles,team\nnew1@example.com,New One,agent,Blue\nnew2@example.com,New Two,supervisor,Blue\n")
	do("import dry run of a good file",
		chromedp.Navigate(base+"/admin/import"), chromedp.WaitVisible(chromedp.ID("file")),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{good}),
		chromedp.Click(chromedp.CSS("#import-form button")),
		chromedp.WaitVisible(chromedp.ID("import-apply")))
	do("import done", chromedp.Click(chromedp.CSS("#import-apply button")), chromedp.WaitVisible(chromedp.ID("import-done")))
	if got := text("#import-done"); !strings.Contains(got, "2 created") {
		t.Errorf("import result %q", got)
	}
	if list := usersList(); !strings.Contains(list, "new1@example.com") || !strings.Contains(list, "new2@example.com") {
		t.Fatalf("the imported users are not listed:\n%s", list)
	}

	// Service providers: the list, a provider with a preview, the removal
	// confirmation (not confirmed).
	do("service providers", chromedp.Navigate(base+"/admin/sps"), chromedp.WaitVisible(chromedp.ID("sp-add")))
	shot("console-sps.png")
	do("a service provider", chromedp.Click(chromedp.CSS(`#sp-list a[href="/admin/sps/flex"]`)), chromedp.WaitVisible(chromedp.ID("sp-settings")))
	do("a service provider's preview",
		chromedp.SendKeys(chromedp.ID("preview_user"), "agent@example.com"),
		chromedp.Click(chromedp.ID("sp-preview")),
		chromedp.WaitVisible(chromedp.ID("preview-table")))
	do("removal confirmation", chromedp.Click(chromedp.ID("sp-remove-link")), chromedp.WaitVisible(chromedp.ID("confirm")))
	do("service provider add refused",
		chromedp.Navigate(base+"/admin/sps"), chromedp.WaitVisible(chromedp.ID("acs")),
		chromedp.SendKeys(chromedp.ID("acs"), "https://example.com/acs"),
		chromedp.SetValue(chromedp.ID("name"), "other"),
		chromedp.Click(chromedp.CSS("#sp-add button")),
		chromedp.WaitVisible(chromedp.ID("sp-error")))

	// Keys: add a next key, activate it.
	do("keys", chromedp.Navigate(base+"/admin/keys"), chromedp.WaitVisible(chromedp.ID("key-add")))
	do("keys with a next key", chromedp.Click(chromedp.CSS("#key-add button")), chromedp.WaitVisible(chromedp.CSS(`button[aria-label^="Activate key"]`)))
	shot("console-keys.png")
	do("an activated key", chromedp.Click(chromedp.CSS(`button[aria-label^="Activate key"]`)), chromedp.WaitVisible(chromedp.ID("key-steps")))
	steps := text("#key-steps")
	cert := strings.TrimSpace(text("#key-certificate"))
	if !strings.Contains(steps, "Twilio Console > Flex > Manage > Single sign-on (SSO)") || !strings.Contains(steps, base+"/saml/metadata") {
		t.Errorf("activation steps %q", steps)
	}
	if published := strings.TrimSpace(string(getBody(t, base+"/saml/certificate.pem"))); published != cert {
		t.Errorf("the server publishes\n%s\nnot the activated key's certificate\n%s", published, cert)
	}

	// API tokens: create one (its secret shown once), revoke it after the
	// confirmation; the CLI lists it revoked.
	do("API tokens", chromedp.Navigate(base+"/admin/tokens"), chromedp.WaitVisible(chromedp.ID("new-token-form")))
	do("API token created",
		chromedp.SendKeys(chromedp.ID("token-name"), "okta"),
		chromedp.Click(chromedp.ID("scope-scim")),
		chromedp.Click(chromedp.CSS("#new-token-form button")),
		chromedp.WaitVisible(chromedp.ID("token-secret")))
	if secret := browserValue(ctx, t, chromedp.Value(chromedp.ID("token-secret"))); !strings.HasPrefix(secret, "fidp_") {
		t.Errorf("the created token reads %q", secret)
	}
	do("API tokens with one", chromedp.Navigate(base+"/admin/tokens"), chromedp.WaitVisible(chromedp.CSS(`a[aria-label="Revoke token okta"]`)))
	shot("console-tokens.png")
	do("API token revoke confirmation", chromedp.Click(chromedp.CSS(`a[aria-label="Revoke token okta"]`)), chromedp.WaitVisible(chromedp.ID("token-revoke")))
	do("API token revoked", chromedp.Click(chromedp.CSS("#token-revoke button")), chromedp.WaitVisible(chromedp.ID("notice")))
	if list := e.cli("", "tokens", "list"); !strings.Contains(list, "okta") || !strings.Contains(list, "revoked") {
		t.Errorf("idp tokens list after the console's revocation:\n%s", list)
	}

	// Audit log: the console's changes, by the owner.
	do("audit log", chromedp.Navigate(base+"/admin/audit?actor=sam.supervisor@example.com"), chromedp.WaitVisible(chromedp.ID("audit-events")))
	shot("console-audit.png")
	if got := text("#audit-events tbody"); !strings.Contains(got, "admin.key.activate") || !strings.Contains(got, "admin.user.import") {
		t.Errorf("the audit log lacks the console's changes:\n%s", got)
	}
}
