package main

import (
	"context"
	"encoding/base64"
	"net"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/flexidp/flexidp/internal/browsertest"
	"github.com/flexidp/flexidp/internal/i18n"
	"github.com/flexidp/flexidp/internal/mfa"
	"github.com/flexidp/flexidp/internal/samltest"
)

// startServeLocalhost runs `idp serve` as startServe does, named
// http://localhost:port: WebAuthn needs a host name for the relying party
// ID, and http://localhost is a secure context for the browser.
func (e *testEnv) startServeLocalhost(extra ...string) string {
	e.t.Helper()
	addr := freeAddr(e.t)
	_, port, _ := net.SplitHostPort(addr)
	base := "http://localhost:" + port
	p := e.launchServe(append([]string{"--listen", addr, "--base-url", base}, extra...)...)
	p.base = base
	e.waitReady(p)
	return base
}

// addVirtualAuthenticator gives the browser's tab a platform
// authenticator (CTAP2, internal, resident keys, user verification that
// succeeds, presence simulated), through the DevTools protocol.
func addVirtualAuthenticator(ctx context.Context, t *testing.T) {
	t.Helper()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	_, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2,
			Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
			IsUserVerified: true, AutomaticPresenceSimulation: true}})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
}

// TestBrowserPasskey drives Chromium with a virtual authenticator, in
// every language flexidp ships (one browser, one agent and one admin per
// language, the language chosen with /login?lang=xx): an agent adds a
// passkey on the account page (after the current password), signs out,
// signs in to an SP with the password and the passkey, and the Response
// the browser posts is verified by crewjam and xmlsec1; then the passkey
// confirms its own removal. An admin whose role requires a passkey, with
// TOTP on, is refused a TOTP code and registers a passkey to finish
// signing in. Each passkey page is scanned with axe-core (no serious or
// critical violation), says its language in <html lang>, and, in a
// language other than English, shows no English sentence of the passkey
// catalog: the account page without a passkey (its add form), the
// add-a-passkey page, the account page with one passkey (the list and
// the remove form), the account page after the removal, the second step
// with a passkey, the passkey registration at sign-in for a role that
// requires one (/passkey/setup), that page after a refused TOTP code, and
// the admin's account page (the role requires a passkey) before and after
// the only passkey is refused removal.
func TestBrowserPasskey(t *testing.T) {
	browsertest.RequireAxe(t)
	e := newTestEnv(t)
	setupFlex(t, e)
	agent := func(lang string) string { return "agent-" + strings.ToLower(lang) + "@example.com" }
	boss := func(lang string) string { return "boss-" + strings.ToLower(lang) + "@example.com" }
	for _, lang := range i18n.Languages {
		e.cli(password+"\n", "users", "add", "--email", agent(lang), "--roles", "agent")
		e.cli(password+"\n", "users", "add", "--email", boss(lang), "--name", "Bo Boss", "--roles", "admin")
	}
	acsSrv, posts := testACS(t)
	acsURL := acsSrv.URL + "/acs"
	e.cli("", "sp", "add", "--name", "browser", "--entity-id", "urn:flex:passkey-test", "--acs", acsURL)

	// The admins turn TOTP on first, on a server that does not require
	// passkeys.
	before := e.startServe()
	base := e.startServeLocalhost("--passkey-required-roles", "admin")
	for _, lang := range i18n.Languages {
		t.Run(lang, func(t *testing.T) {
			ctx := newChromium(t)
			addVirtualAuthenticator(ctx, t)
			passkeyTour(ctx, t, e, passkeyRun{lang: lang, before: before, base: base, agent: agent(lang), boss: boss(lang),
				acsURL: acsURL, posts: posts})
		})
	}
}

// passkeyRun is what one language's passkey tour needs.
type passkeyRun struct {
	lang, before, base, agent, boss, acsURL string
	posts                                   <-chan acsPost
}

// passkeyKeys are the catalog keys of the passkey pages' own words.
func passkeyKeys() []string {
	var keys []string
	for _, key := range i18n.Keys("en") {
		if strings.Contains(key, "passkey") || key == "account.never" || key == "account.col_added" || key == "account.col_last_used" {
			keys = append(keys, key)
		}
	}
	return keys
}

// noEnglishPasskey fails if the page (its main part and title) shows a
// fragment of an English passkey sentence that lang words differently.
func noEnglishPasskey(ctx context.Context, t *testing.T, lang, page string) {
	t.Helper()
	if lang == i18n.Default {
		return
	}
	text := browserValue(ctx, t, chromedp.Evaluate[string](`document.title + "\n" + document.querySelector("main").innerText`))
	split := regexp.MustCompile(`\{[a-z_]+\}|<[^>]*>`)
	for _, key := range passkeyKeys() {
		for form, s := range i18n.Forms("en", key) {
			if form != "" {
				form = " " + form
			}
			for _, f := range split.Split(s, -1) {
				f = strings.TrimFunc(f, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
				if len([]rune(f)) < 3 {
					continue
				}
				if regexp.MustCompile(`\b` + regexp.QuoteMeta(f) + `\b`).MatchString(text) {
					t.Errorf("%s: %s: shows English %q (%s%s):\n%s", lang, page, f, key, form, text)
				}
			}
		}
	}
}

// passkeyTour is TestBrowserPasskey in one language, in a browser with a
// virtual authenticator.
func passkeyTour(ctx context.Context, t *testing.T, e *testEnv, r passkeyRun) {
	t.Helper()
	lang, base := r.lang, r.base
	scan := func(page string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		axeStep(ctx, t, lang, page, steps...)
		noEnglishPasskey(ctx, t, lang, page)
	}
	signIn := func(at, email string, then chromedp.Action[chromedp.Void]) {
		t.Helper()
		err := chromedp.Do(ctx,
			chromedp.WaitVisible(chromedp.ID("email")),
			chromedp.SendKeys(chromedp.ID("email"), email),
			chromedp.SendKeys(chromedp.ID("password"), password),
			chromedp.Click(submit),
			then)
		if err != nil {
			t.Fatalf("sign in %s at %s: %v", email, at, err)
		}
	}
	// The language switch is remembered per host: choose it on both.
	if err := chromedp.Do(ctx, chromedp.Navigate(r.before+"/login?lang="+lang)); err != nil {
		t.Fatal(err)
	}
	signIn(r.before, r.boss, chromedp.WaitVisible(chromedp.ID("secret")))
	secret := strings.ReplaceAll(browserValue(ctx, t, chromedp.Text(chromedp.ID("secret"))), " ", "")
	code, err := mfa.Code(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("code"), code), chromedp.Click(submit),
		chromedp.WaitVisible(chromedp.ID("recovery-codes"))); err != nil {
		t.Fatalf("TOTP enrolment: %v", err)
	}

	// The agent adds a passkey on the account page.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/login?lang="+lang)); err != nil {
		t.Fatal(err)
	}
	signIn(base, r.agent, chromedp.WaitVisible(chromedp.ID("mfa-setup")))
	scan("account, no passkey", chromedp.Navigate(base+"/account"), chromedp.WaitVisible(chromedp.ID("passkeys-none")))
	scan("add a passkey",
		chromedp.SendKeys(chromedp.ID("passkey-new-name"), "Work laptop"),
		chromedp.SendKeys(chromedp.ID("passkey-add-current"), password),
		chromedp.Click(chromedp.CSS(`#passkey-add-form button`)),
		chromedp.WaitVisible(chromedp.ID("passkey-button")))
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("passkey-button")),
		chromedp.WaitVisible(chromedp.ID("account-notice")))
	if err != nil {
		t.Fatalf("create the passkey: %v (status %q)", err, browserValue(ctx, t, chromedp.Text(chromedp.ID("passkey-status"))))
	}
	notice := browserValue(ctx, t, chromedp.Text(chromedp.ID("account-notice")))
	listed := browserValue(ctx, t, chromedp.Text(chromedp.ID("passkeys")))
	if want := i18n.T(lang, "account.passkey_added", "name", "Work laptop"); notice != want ||
		!strings.Contains(listed, "Work laptop") || !strings.Contains(listed, i18n.T(lang, "account.never")) {
		t.Fatalf("after adding: notice %q (want %q), list %q", notice, want, listed)
	}
	scan("account, one passkey", chromedp.WaitVisible(chromedp.ID("passkey-remove-form")))

	// Signed out, the agent signs in to the SP with the password and the
	// passkey; the Response reaches the ACS and verifies.
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/logout"),
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/login"]`)))
	if err != nil {
		t.Fatalf("logout: %v", err)
	}
	sp := samltest.FlexSP(t, base)
	sp.EntityID = "urn:flex:passkey-test"
	acs, _ := url.Parse(r.acsURL)
	sp.AcsURL = *acs
	redirect, reqID := samltest.AuthnRedirect(t, sp, "", nil)
	if err := chromedp.Do(ctx, chromedp.Navigate(redirect)); err != nil {
		t.Fatal(err)
	}
	signIn(base, r.agent, chromedp.WaitVisible(chromedp.ID("passkey-button")))
	if n := browserValue(ctx, t, chromedp.Evaluate[int](`document.querySelectorAll("#code").length`)); n != 0 {
		t.Error("the second step offers a code to an agent without TOTP")
	}
	scan("second step with a passkey")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("passkey-button")), chromedp.WaitVisible(chromedp.ID("acs"))); err != nil {
		t.Fatalf("sign in with the passkey: %v (at %s)", err, location(ctx, t))
	}
	var doc []byte
	select {
	case p := <-r.posts:
		if doc, err = base64.StdEncoding.DecodeString(p.samlResponse); err != nil {
			t.Fatalf("SAMLResponse is not base64: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing posted to the ACS")
	}
	assertion, err := sp.ParseXMLResponse(doc, []string{reqID}, *acs)
	if err != nil {
		t.Fatalf("crewjam SP refuses the Response: %v", err)
	}
	if got := assertion.Subject.NameID.Value; got != r.agent {
		t.Errorf("NameID = %q", got)
	}
	samltest.VerifyWithXmlsec(t, doc, getBody(t, base+"/saml/certificate.pem"))
	if trail := e.cli("", "audit", "search", "--user", r.agent, "--action", "signin.success"); !strings.Contains(trail, "password+passkey") {
		t.Errorf("audit trail lacks the passkey sign-in:\n%s", trail)
	}

	// The passkey confirms its own removal on the account page.
	scan("account, passkey removed",
		chromedp.Navigate(base+"/account"),
		chromedp.WaitVisible(chromedp.ID("passkey-button")),
		chromedp.Click(chromedp.ID("passkey-button")),
		chromedp.WaitVisible(chromedp.ID("passkeys-none")))
	if notice, want := browserValue(ctx, t, chromedp.Text(chromedp.ID("account-notice"))), i18n.T(lang, "account.passkey_removed", "name", "Work laptop"); notice != want {
		t.Errorf("after removing: %q, want %q", notice, want)
	}

	// The admin's role requires a passkey: after the password, the page
	// asks for one, and a TOTP code is refused.
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/logout"), chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/login"]`)),
		chromedp.Navigate(base+"/login"))
	if err != nil {
		t.Fatal(err)
	}
	signIn(base, r.boss, chromedp.WaitVisible(chromedp.ID("passkey-name")))
	scan("passkey required at sign-in")
	code, err = mfa.Code(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// No code form is offered: post one as a phisher holding the code would.
	post := `(() => { const f = document.getElementById("passkey-form"); f.action = "/login/mfa";
		const c = document.createElement("input"); c.name = "code"; c.value = "` + code + `"; f.appendChild(c); f.submit(); })()`
	scan("TOTP refused, passkey required", chromedp.Evaluate[chromedp.Void](post), chromedp.WaitVisible(chromedp.CSS(".error")))
	if msg, want := browserValue(ctx, t, chromedp.Text(chromedp.CSS(".error"))), i18n.T(lang, "passkey.required_refused"); msg != want {
		t.Fatalf("TOTP code of a passkey role: %q, want %q", msg, want)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("passkey-name"), "Security key"),
		chromedp.Click(chromedp.ID("passkey-button")),
		chromedp.WaitVisible(chromedp.ID("logout")))
	if err != nil {
		t.Fatalf("register the required passkey: %v (at %s)", err, location(ctx, t))
	}
	if loc := location(ctx, t); loc != base+"/launcher" {
		t.Errorf("after the required passkey: at %s, want the launcher", loc)
	}

	// The admin's account page says the role requires a passkey, and
	// refuses to remove the only one (a form posted without JavaScript).
	scan("account, passkey required", chromedp.Navigate(base+"/account"), chromedp.WaitVisible(chromedp.ID("passkey-remove-form")))
	if got, want := browserValue(ctx, t, chromedp.Text(chromedp.CSS(`section[aria-labelledby="passkeys-heading"] p.muted`))),
		i18n.T(lang, "account.passkeys_required"); !strings.Contains(got, want) {
		t.Errorf("passkeys section: %q lacks %q", got, want)
	}
	scan("account, the only required passkey not removed",
		chromedp.SendKeys(chromedp.ID("passkey-remove-current"), password),
		chromedp.Click(chromedp.CSS(`#passkey-remove-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("account-error")))
	if msg, want := browserValue(ctx, t, chromedp.Text(chromedp.ID("account-error"))), i18n.T(lang, "passkey.last"); msg != want {
		t.Errorf("removing the only required passkey: %q, want %q", msg, want)
	}
}

// TestPasskeyRolesNeedHostName: idp serve refuses to start with roles that
// require a passkey when its base URL is an IP address (no relying party
// ID), rather than leave those users unable to sign in; with a host name
// it starts.
func TestPasskeyRolesNeedHostName(t *testing.T) {
	e, _ := sqliteEnv(t)
	e.getenv["IDP_PASSKEY_REQUIRED_ROLES"] = "admin"
	out := e.cliWant(1, "", "serve", "--listen", freeAddr(t), "--base-url", "http://127.0.0.1:8080", "--signin-time-floor", "0")
	samltest.MustContain(t, out, "IDP_PASSKEY_REQUIRED_ROLES", "name a host, not an IP address")
	e.startServeLocalhost()
}
