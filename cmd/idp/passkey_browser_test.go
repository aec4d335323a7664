package main

import (
	"context"
	"encoding/base64"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/flexidp/flexidp/internal/browsertest"
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

// TestBrowserPasskey drives Chromium with a virtual authenticator: an
// agent adds a passkey on the account page (after the current password),
// signs out, signs in to an SP with the password and the passkey, and the
// Response the browser posts is verified by crewjam and xmlsec1; then the
// passkey confirms its own removal. An admin
// whose role requires a passkey, with TOTP on, is refused a TOTP code and
// registers a passkey to finish signing in. Every passkey page is scanned
// with axe-core (no serious or critical violation).
func TestBrowserPasskey(t *testing.T) {
	browsertest.RequireAxe(t)
	ctx := newChromium(t)
	e := newTestEnv(t)
	setupFlex(t, e)
	e.cli(password+"\n", "users", "add", "--email", "boss@example.com", "--name", "Bo Boss", "--roles", "admin")
	acsSrv, posts := testACS(t)
	acsURL := acsSrv.URL + "/acs"
	e.cli("", "sp", "add", "--name", "browser", "--entity-id", "urn:flex:passkey-test", "--acs", acsURL)

	// The admin turns TOTP on first, on a server that does not require
	// passkeys yet.
	before := e.startServe()
	addVirtualAuthenticator(ctx, t)
	signIn := func(base, email string, then chromedp.Action[chromedp.Void]) {
		t.Helper()
		err := chromedp.Do(ctx,
			chromedp.WaitVisible(chromedp.ID("email")),
			chromedp.SendKeys(chromedp.ID("email"), email),
			chromedp.SendKeys(chromedp.ID("password"), password),
			chromedp.Click(submit),
			then)
		if err != nil {
			t.Fatalf("sign in %s at %s: %v", email, base, err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(before+"/login")); err != nil {
		t.Fatal(err)
	}
	signIn(before, "boss@example.com", chromedp.WaitVisible(chromedp.ID("secret")))
	secret := strings.ReplaceAll(browserValue(ctx, t, chromedp.Text(chromedp.ID("secret"))), " ", "")
	code, err := mfa.Code(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("code"), code), chromedp.Click(submit),
		chromedp.WaitVisible(chromedp.ID("recovery-codes"))); err != nil {
		t.Fatalf("TOTP enrolment: %v", err)
	}

	base := e.startServeLocalhost("--passkey-required-roles", "admin")
	scan := func(page string) {
		t.Helper()
		browsertest.AssertAccessible(ctx, t, page)
	}

	// The agent adds a passkey on the account page.
	err = chromedp.Do(ctx, chromedp.Navigate(base+"/login"))
	if err != nil {
		t.Fatal(err)
	}
	signIn(base, "agent@example.com", chromedp.WaitVisible(chromedp.ID("mfa-setup")))
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/account"),
		chromedp.WaitVisible(chromedp.ID("passkeys-none")))
	if err != nil {
		t.Fatalf("account page: %v", err)
	}
	scan("account, no passkey")
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("passkey-new-name"), "Work laptop"),
		chromedp.SendKeys(chromedp.ID("passkey-add-current"), password),
		chromedp.Click(chromedp.CSS(`#passkey-add-form button`)),
		chromedp.WaitVisible(chromedp.ID("passkey-button")))
	if err != nil {
		t.Fatalf("add a passkey: %v", err)
	}
	scan("add a passkey")
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("passkey-button")),
		chromedp.WaitVisible(chromedp.ID("account-notice")))
	if err != nil {
		t.Fatalf("create the passkey: %v (status %q)", err, browserValue(ctx, t, chromedp.Text(chromedp.ID("passkey-status"))))
	}
	notice := browserValue(ctx, t, chromedp.Text(chromedp.ID("account-notice")))
	listed := browserValue(ctx, t, chromedp.Text(chromedp.ID("passkeys")))
	if !strings.Contains(notice, "Work laptop") || !strings.Contains(listed, "Work laptop") || !strings.Contains(listed, "never") {
		t.Fatalf("after adding: notice %q, list %q", notice, listed)
	}
	scan("account, one passkey")

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
	acs, _ := url.Parse(acsURL)
	sp.AcsURL = *acs
	redirect, reqID := samltest.AuthnRedirect(t, sp, "", nil)
	if err := chromedp.Do(ctx, chromedp.Navigate(redirect)); err != nil {
		t.Fatal(err)
	}
	signIn(base, "agent@example.com", chromedp.WaitVisible(chromedp.ID("passkey-button")))
	if n := browserValue(ctx, t, chromedp.Evaluate[int](`document.querySelectorAll("#code").length`)); n != 0 {
		t.Error("the second step offers a code to an agent without TOTP")
	}
	scan("second step with a passkey")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("passkey-button")), chromedp.WaitVisible(chromedp.ID("acs"))); err != nil {
		t.Fatalf("sign in with the passkey: %v (at %s)", err, location(ctx, t))
	}
	var doc []byte
	select {
	case p := <-posts:
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
	if got := assertion.Subject.NameID.Value; got != "agent@example.com" {
		t.Errorf("NameID = %q", got)
	}
	samltest.VerifyWithXmlsec(t, doc, getBody(t, base+"/saml/certificate.pem"))
	if trail := e.cli("", "audit", "search", "--user", "agent@example.com", "--action", "signin.success"); !strings.Contains(trail, "password+passkey") {
		t.Errorf("audit trail lacks the passkey sign-in:\n%s", trail)
	}

	// The passkey confirms its own removal on the account page.
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/account"),
		chromedp.WaitVisible(chromedp.ID("passkey-button")),
		chromedp.Click(chromedp.ID("passkey-button")),
		chromedp.WaitVisible(chromedp.ID("passkeys-none")))
	if err != nil {
		t.Fatalf("remove the passkey with the passkey: %v", err)
	}
	if notice := browserValue(ctx, t, chromedp.Text(chromedp.ID("account-notice"))); !strings.Contains(notice, "“Work laptop” is removed") {
		t.Errorf("after removing: %q", notice)
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
	signIn(base, "boss@example.com", chromedp.WaitVisible(chromedp.ID("passkey-name")))
	scan("passkey required at sign-in")
	code, err = mfa.Code(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// No code form is offered: post one as a phisher holding the code would.
	post := `(() => { const f = document.getElementById("passkey-form"); f.action = "/login/mfa";
		const c = document.createElement("input"); c.name = "code"; c.value = "` + code + `"; f.appendChild(c); f.submit(); })()`
	err = chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](post), chromedp.WaitVisible(chromedp.CSS(".error")))
	if err != nil {
		t.Fatalf("post a TOTP code: %v", err)
	}
	if msg := browserValue(ctx, t, chromedp.Text(chromedp.CSS(".error"))); !strings.Contains(msg, "Your role requires a passkey") {
		t.Fatalf("TOTP code of a passkey role: %q", msg)
	}
	scan("TOTP refused, passkey required")
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
