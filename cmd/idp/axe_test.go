package main

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/flexidp/flexidp/internal/browsertest"
	"github.com/flexidp/flexidp/internal/i18n"
	"github.com/flexidp/flexidp/internal/mfa"
	"github.com/flexidp/flexidp/internal/samltest"
)

// TestBrowserAxe visits every public page of a real `idp serve` in
// Chromium, in every language flexidp ships (chosen with the page's own
// language switch, which Chromium remembers), and scans each with
// axe-core: no serious or critical accessibility violation is allowed,
// and <html lang> is the page's language. The pages: login (fresh, for an
// SP, and after a wrong password), the launcher, MFA enrolment (and its
// error), the recovery codes, the account page, logout and signed out,
// the MFA code page (and its error), the password-link page (and its
// error), the forgot-password page, the error page (404, a bad SAML
// request, a spent link); then, in English, the login page of `idp dev`
// with its banner, and the branded pages (logo, name, support line,
// accent colour). With FLEXIDP_SCREENSHOTS=dir it saves the login page as
// dir/login.png (docs/screenshots/login.png is made that way).
func TestBrowserAxe(t *testing.T) {
	browsertest.RequireAxe(t)
	e := newTestEnv(t)
	setupFlex(t, e)
	base := e.startServe()

	// Each language has its own agent (MFA enrolment happens once), and
	// its own browser (and time budget), closed when done.
	agent := func(lang string) string { return "agent-" + strings.ToLower(lang) + "@example.com" }
	for _, lang := range i18n.Languages {
		e.cli(password+"\n", "users", "add", "--email", agent(lang), "--roles", "agent")
	}
	for _, lang := range i18n.Languages {
		t.Run(lang, func(t *testing.T) {
			ctx := newChromium(t)
			if err := chromedp.Do(ctx, chromedp.Navigate(base+"/login?lang="+lang), chromedp.WaitVisible(chromedp.ID("email"))); err != nil {
				t.Fatalf("switch language: %v", err)
			}
			axeTour(ctx, t, e, base, lang, agent(lang))
		})
	}

	ctx := newChromium(t) // English: a new profile, Chromium's en-US
	do := func(page string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		axeStep(ctx, t, "en", page, steps...)
	}
	dev := startDev(t, filepath.Join(t.TempDir(), "dev.db"))
	do("idp dev login", chromedp.Navigate(dev.base+"/login"), chromedp.WaitVisible(chromedp.CSS(".dev-banner")))
	// The banner is in a landmark (a header), so that nothing on the page
	// is outside one: not even a moderate violation there.
	for _, v := range browsertest.Scan(ctx, t) {
		t.Errorf("idp dev login: axe-core: %s", v)
	}

	// Branding adds a logo, the organisation's name, a support line and an
	// accent colour to every page: the branded pages pass the same scan,
	// with no violation of any impact.
	var logo bytes.Buffer
	if err := png.Encode(&logo, image.NewRGBA(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	logoFile := filepath.Join(t.TempDir(), "logo.png")
	if err := os.WriteFile(logoFile, logo.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	branded := startDev(t, filepath.Join(t.TempDir(), "branded.db"), "--org-name", "Acme Support", "--org-logo-file", logoFile,
		"--accent-colour", "#0b5394", "--support-contact", "Help: ext. 4000")
	for _, p := range []struct{ name, path, wait string }{
		{"branded login", "/login", "#support"},
		{"branded forgot password", "/password/forgot", "#support"},
		{"branded 404", "/nonexistent", ".error"},
	} {
		do(p.name, chromedp.Navigate(branded.base+p.path), chromedp.WaitVisible(chromedp.CSS(p.wait)))
		for _, v := range browsertest.Scan(ctx, t) {
			t.Errorf("%s: axe-core: %s", p.name, v)
		}
	}
}

// axeStep runs browser steps, then scans the page they end on, which must
// be in lang.
func axeStep(ctx context.Context, t *testing.T, lang, page string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	page = lang + ": " + page
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", page, err)
	}
	browsertest.AssertAccessible(ctx, t, page)
	if got := browserValue(ctx, t, chromedp.Evaluate[string](`document.documentElement.lang`)); got != lang {
		t.Errorf("%s: <html lang=%q>, want %q", page, got, lang)
	}
}

// holdAutoPost blocks (or lets through again) the auto-POST page's
// script, so that the page stays in the browser instead of posting.
func holdAutoPost(ctx context.Context, t *testing.T, hold bool) {
	t.Helper()
	var block []*network.BlockPattern
	if hold {
		block = []*network.BlockPattern{{URLPattern: "*://*:*/static/autosubmit.js", Block: true}}
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: block}); err != nil {
		t.Fatal(err)
	}
}

// axeTour visits and scans every public page in lang (already chosen),
// signing in as email, an agent without a second factor.
func axeTour(ctx context.Context, t *testing.T, e *testEnv, base, lang, email string) {
	t.Helper()
	do := func(page string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		axeStep(ctx, t, lang, page, steps...)
	}
	// signIn fills and posts the login form, then waits for then.
	signIn := func(pw string, then chromedp.Action[chromedp.Void]) []chromedp.Action[chromedp.Void] {
		return []chromedp.Action[chromedp.Void]{
			chromedp.Navigate(base + "/login"),
			chromedp.WaitVisible(chromedp.ID("email")),
			chromedp.SendKeys(chromedp.ID("email"), email),
			chromedp.SendKeys(chromedp.ID("password"), pw),
			chromedp.Click(submit),
			then,
		}
	}

	do("login", chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.ID("email")))
	if dir := os.Getenv("FLEXIDP_SCREENSHOTS"); dir != "" && lang == "en" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "login.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	redirect, _ := samltest.AuthnRedirect(t, samltest.FlexSP(t, base), "", nil)
	do("login for Flex (SP-initiated)", chromedp.Navigate(redirect), chromedp.WaitVisible(chromedp.CSS("p.muted strong")))
	do("login after a wrong password", signIn("not the password", chromedp.WaitVisible(chromedp.CSS(".error")))...)
	do("launcher", signIn(password, chromedp.WaitVisible(chromedp.ID("mfa-setup")))...)
	do("MFA enrolment", chromedp.Click(chromedp.ID("mfa-setup")), chromedp.WaitVisible(chromedp.ID("secret")))
	do("MFA enrolment, wrong code",
		chromedp.SendKeys(chromedp.ID("code"), "000000"), chromedp.Click(submit), chromedp.WaitVisible(chromedp.CSS(".error")))
	secret := browserValue(ctx, t, chromedp.Text(chromedp.ID("secret")))
	code, err := mfa.Code(strings.ReplaceAll(secret, " ", ""), time.Now())
	if err != nil {
		t.Fatalf("TOTP code for %q: %v", secret, err)
	}
	do("recovery codes", chromedp.SendKeys(chromedp.ID("code"), code), chromedp.Click(submit),
		chromedp.WaitVisible(chromedp.ID("recovery-codes")))
	do("account", chromedp.Navigate(base+"/account"), chromedp.WaitVisible(chromedp.ID("profile")))
	do("account, passwords differ",
		chromedp.SendKeys(chromedp.ID("current"), password),
		chromedp.SendKeys(chromedp.ID("password"), "a long new password"),
		chromedp.SendKeys(chromedp.ID("confirm"), "another long password"),
		chromedp.Click(chromedp.CSS("#password-form button")), chromedp.WaitVisible(chromedp.ID("account-error")))
	// The page that posts a Response to Flex, with its script (which
	// submits it at once) held back so that it stays to be scanned.
	holdAutoPost(ctx, t, true)
	redirect, _ = samltest.AuthnRedirect(t, samltest.FlexSP(t, base), "", nil)
	do("auto-POST page", chromedp.Navigate(redirect), chromedp.WaitVisible(chromedp.CSS("#saml-post button")))
	holdAutoPost(ctx, t, false)
	do("logout", chromedp.Navigate(base+"/logout"), chromedp.WaitVisible(chromedp.ID("logout")))
	do("signed out", chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.CSS(`main a[href="/login"]`)))
	do("MFA code", signIn(password, chromedp.WaitVisible(chromedp.ID("code")))...)
	do("MFA code, wrong code",
		chromedp.SendKeys(chromedp.ID("code"), "000000"), chromedp.Click(submit), chromedp.WaitVisible(chromedp.CSS(".error")))

	link := strings.Fields(e.cli("", "users", "reset-link", "--email", "norole@example.com", "--base-url", base, "--no-email"))[0]
	do("password link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("confirm")))
	do("password link, passwords differ",
		chromedp.SendKeys(chromedp.ID("password"), "a long new password"),
		chromedp.SendKeys(chromedp.ID("confirm"), "another long password"),
		chromedp.Click(submit), chromedp.WaitVisible(chromedp.CSS(".error")))
	do("password link, unknown token", chromedp.Navigate(base+"/password?token=nonsense"), chromedp.WaitVisible(chromedp.CSS(".error")))

	do("forgot password", chromedp.Navigate(base+"/password/forgot"), chromedp.WaitVisible(chromedp.ID("email")))
	do("forgot password, sent", chromedp.SendKeys(chromedp.ID("email"), "nobody@example.com"), chromedp.Click(submit),
		chromedp.WaitVisible(chromedp.CSS(`p[role="status"]`)))
	do("404", chromedp.Navigate(base+"/nonexistent"), chromedp.WaitVisible(chromedp.CSS(".error")))
	do("bad SAML request", chromedp.Navigate(base+"/saml/sso?SAMLRequest=not-a-request"), chromedp.WaitVisible(chromedp.CSS(".error")))
}
