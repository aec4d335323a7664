package server_test

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/mfa"
	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

var (
	secretRE   = regexp.MustCompile(`<code id="secret">([A-Z2-7 ]+)</code>`)
	recoveryRE = regexp.MustCompile(`<li><code>([A-Z2-7]{5}-[A-Z2-7]{5})</code></li>`)
)

// totp is the code of secret at t.
func totp(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := mfa.Code(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolmentSecret returns the key shown on an enrolment page.
func enrolmentSecret(t *testing.T, body string) string {
	t.Helper()
	m := secretRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no enrolment page:\n%s", body)
	}
	return strings.ReplaceAll(m[1], " ", "")
}

// passwordPage signs email in with pw in a new browser and returns it
// with the page that follows the password (the second factor's).
func passwordPage(t *testing.T, base, email, pw string) (*samltest.Browser, string) {
	t.Helper()
	b := samltest.NewBrowser(t)
	_, page := b.Get(base + "/login")
	status, body := b.Login(base, page, email, pw)
	samltest.WantStatus(t, "password of "+email, status, http.StatusOK, body)
	return b, body
}

// issueLink issues a password link for email, as idp users invite and
// reset-link do.
func (h *testIdP) issueLink(t *testing.T, req accounts.LinkRequest) string {
	t.Helper()
	req.BaseURL, _ = url.Parse(h.URL)
	l, err := h.Accounts.IssueLink(context.Background(), admin, req)
	if err != nil {
		t.Fatal(err)
	}
	return l.URL
}

// TestMFAEndToEnd: an admin must enrol at the first sign-in (QR code,
// recovery codes) and the pending SAML request is answered afterwards; a
// TOTP code is accepted once; recovery codes work once; a second-factor
// reset starts over. Secrets are encrypted at rest.
func TestMFAEndToEnd(t *testing.T) {
	h := newTestIdP(t, idpOptions{KeyEncryptionKey: "0123456789abcdef0123456789abcdef"})
	root := h.addUser(t, users.User{Email: "root@example.com", Roles: []string{"admin"}})
	base, st := h.URL, h.Store
	sp := samltest.FlexSP(t, base)

	b := samltest.NewBrowser(t)
	redirect, reqID := samltest.AuthnRedirect(t, sp, "relay-mfa", nil)
	_, page := b.Get(redirect)
	status, body := b.Login(base, page, "root@example.com", password)
	samltest.WantStatus(t, "password of an admin", status, http.StatusOK, body)
	samltest.MustContain(t, body, "requires two-step verification", `src="data:image/png;base64,`)
	secret := enrolmentSecret(t, body)
	if n := h.sessions(t, "root@example.com"); n != 0 {
		t.Fatal("a session exists before the second factor")
	}

	f := samltest.HiddenFields(body)
	status, body = b.Post(base+"/mfa/setup", url.Values{"csrf": {f["csrf"]}, "state": {f["state"]}, "code": {"000000"}})
	if totp(t, secret, time.Now()) != "000000" {
		samltest.WantStatus(t, "wrong enrolment code", status, http.StatusUnauthorized, body)
	}
	status, body = b.Post(base+"/mfa/setup", url.Values{"csrf": {f["csrf"]}, "state": {f["state"]}, "code": {totp(t, secret, time.Now())}})
	samltest.WantStatus(t, "enrolment", status, http.StatusOK, body)
	codes := recoveryRE.FindAllStringSubmatch(body, -1)
	if len(codes) != mfa.RecoveryCodeCount {
		t.Fatalf("recovery page shows %d codes:\n%s", len(codes), body)
	}
	if rec, err := st.GetMFA(context.Background(), root.ID); err != nil || !strings.HasPrefix(string(rec.Secret), "flexidp-sealed:") {
		t.Fatalf("TOTP secret not encrypted at rest: %q, %v", rec.Secret, err)
	}
	f = samltest.HiddenFields(body)
	status, body = b.Post(base+"/mfa/continue", url.Values{"csrf": {f["csrf"]}, "state": {f["state"]}})
	samltest.WantStatus(t, "continue", status, http.StatusOK, body)
	if form := samltest.Form(t, body); form.RelayState != "relay-mfa" {
		t.Fatalf("the SAML flow did not continue after enrolment: relay %q", form.RelayState)
	} else {
		samltest.Accepts(t, sp, form, reqID)
	}

	// A new browser: password, then the code. The code used to enrol is
	// refused (same time step), the next period's is accepted.
	signIn := func(c string) (int, string) {
		t.Helper()
		b := samltest.NewBrowser(t)
		page, _ := b.StartSignIn(sp)
		status, body := b.Login(base, page, "root@example.com", password)
		samltest.WantStatus(t, "password", status, http.StatusOK, body)
		samltest.MustContain(t, body, "Two-step verification", `name="code"`)
		f := samltest.HiddenFields(body)
		return b.Post(base+"/login/mfa", url.Values{"csrf": {f["csrf"]}, "state": {f["state"]}, "code": {c}})
	}
	status, body = signIn(totp(t, secret, time.Now()))
	samltest.WantStatus(t, "replayed TOTP code", status, http.StatusUnauthorized, body)
	samltest.MustContain(t, body, "already been used")
	status, body = signIn(totp(t, secret, time.Now().Add(30*time.Second)))
	samltest.WantStatus(t, "next TOTP code", status, http.StatusOK, body)
	samltest.Form(t, body)
	status, body = signIn(strings.ToLower(codes[0][1]))
	samltest.WantStatus(t, "recovery code", status, http.StatusOK, body)
	samltest.Form(t, body)
	status, body = signIn(codes[0][1])
	samltest.WantStatus(t, "recovery code used twice", status, http.StatusUnauthorized, body)

	// A state issued to one browser is useless in another.
	b2 := samltest.NewBrowser(t)
	_, page = b2.Get(base + "/login")
	_, body = b2.Login(base, page, "root@example.com", password)
	stolen := samltest.HiddenFields(body)["state"]
	b3 := samltest.NewBrowser(t)
	_, page = b3.Get(base + "/login")
	status, body = b3.Post(base+"/login/mfa", url.Values{"csrf": {samltest.HiddenFields(page)["csrf"]}, "state": {stolen}, "code": {totp(t, secret, time.Now().Add(-30*time.Second))}})
	samltest.WantStatus(t, "stolen state", status, http.StatusBadRequest, body)

	got := strings.Join(h.audit(t, store.AuditFilter{User: root.ID}), " ")
	for _, want := range []string{"mfa.enrolled:", "mfa.failure:code already used", "mfa.recovery_code_used:",
		"signin.success:password+totp", "signin.success:password+recovery code", "saml.response:"} {
		if !strings.Contains(got, want) {
			t.Errorf("audit trail lacks %q: %s", want, got)
		}
	}
	events, _ := st.ListAudit(context.Background(), store.AuditFilter{User: root.ID, Action: "saml.response", Limit: 1})
	if len(events) != 1 || !strings.Contains(string(events[0].Details), `"assertion_id":"id-`) || !strings.Contains(string(events[0].Details), `"roles"`) || events[0].SP != "flex" {
		t.Errorf("saml.response event lacks assertion ID, attributes or SP: %+v", events)
	}

	// A second-factor reset: the next sign-in enrols again.
	if _, err := h.Accounts.ResetMFA(context.Background(), admin, "root@example.com"); err != nil {
		t.Fatal(err)
	}
	b4 := samltest.NewBrowser(t)
	_, page = b4.Get(base + "/login")
	_, body = b4.Login(base, page, "root@example.com", password)
	samltest.MustContain(t, body, "requires two-step verification")

	// Optional MFA: an agent enrols from the launcher.
	b5 := samltest.NewBrowser(t)
	_, page = b5.Get(base + "/login")
	status, body = b5.Login(base, page, "agent@example.com", password)
	samltest.WantStatus(t, "agent sign-in", status, http.StatusOK, body)
	samltest.MustContain(t, body, `href="/mfa/setup"`)
	_, body = b5.Get(base + "/mfa/setup")
	agentSecret := enrolmentSecret(t, body)
	status, body = b5.Post(base+"/mfa/setup", url.Values{"csrf": {samltest.HiddenFields(body)["csrf"]}, "state": {samltest.HiddenFields(body)["state"]},
		"code": {totp(t, agentSecret, time.Now())}})
	samltest.WantStatus(t, "optional enrolment", status, http.StatusOK, body)
	samltest.MustContain(t, body, "Two-step verification is on", `href="/launcher"`)
}

// TestPasswordLinks: invitation and reset links are single-use and
// expire; the page enforces the policy; a reset ends every session.
func TestPasswordLinks(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	base := h.URL
	link := h.issueLink(t, accounts.LinkRequest{Ref: "new@example.com", Purpose: store.TokenInvite,
		Profile: users.User{FullName: "New Agent", Roles: []string{"agent"}}})
	b := samltest.NewBrowser(t)
	status, body := b.Get(link)
	samltest.WantStatus(t, "invite page", status, http.StatusOK, body)
	samltest.MustContain(t, body, "Welcome", "new@example.com")
	f := samltest.HiddenFields(body)
	post := func(pw, confirm string) (int, string) {
		return b.Post(base+"/password", url.Values{"csrf": {f["csrf"]}, "token": {f["token"]}, "password": {pw}, "confirm": {confirm}})
	}
	for _, c := range []struct{ pw, confirm, says string }{
		{"short", "short", "at least 8"},
		{"NEW@example.com", "NEW@example.com", "email"},
		{"long enough one", "long enough two", "differ"},
		{"Password1", "Password1", "The password is in a list of commonly used passwords; choose another."},
	} {
		status, body := post(c.pw, c.confirm)
		samltest.WantStatus(t, "weak password "+c.pw, status, http.StatusBadRequest, body)
		samltest.MustContain(t, body, c.says)
	}
	// Without the CSRF token nothing happens.
	status, body = b.Post(base+"/password", url.Values{"token": {f["token"]}, "password": {"a fine password"}, "confirm": {"a fine password"}})
	samltest.WantStatus(t, "no CSRF", status, http.StatusForbidden, body)
	status, body = post("a fine password", "a fine password")
	samltest.WantStatus(t, "set password", status, http.StatusOK, body)
	samltest.MustContain(t, body, "Your password is set")
	status, body = post("another password", "another password")
	samltest.WantStatus(t, "link used twice", status, http.StatusGone, body)
	status, body = b.Get(link)
	samltest.WantStatus(t, "used link", status, http.StatusGone, body)

	// Sign in with it, then reset: the session ends.
	_, page := b.Get(base + "/login")
	status, body = b.Login(base, page, "new@example.com", "a fine password")
	samltest.WantStatus(t, "sign-in with the chosen password", status, http.StatusOK, body)
	if n := h.sessions(t, "new@example.com"); n != 1 {
		t.Fatalf("new@example.com has %d sessions after signing in, want 1", n)
	}
	link = h.issueLink(t, accounts.LinkRequest{Ref: "new@example.com", Purpose: store.TokenReset, TTL: time.Hour})
	b2 := samltest.NewBrowser(t)
	_, body = b2.Get(link)
	f2 := samltest.HiddenFields(body)
	status, body = b2.Post(base+"/password", url.Values{"csrf": {f2["csrf"]}, "token": {f2["token"]}, "password": {"a newer password"}, "confirm": {"a newer password"}})
	samltest.WantStatus(t, "reset", status, http.StatusOK, body)
	status, body = b.Get(base + "/launcher")
	samltest.WantStatus(t, "launcher", status, http.StatusOK, body)
	samltest.MustContain(t, body, `name="password"`) // redirected to the login form: the session ended
	// An invitation of a user who has a password is refused.
	baseURL, _ := url.Parse(base)
	if _, err := h.Accounts.IssueLink(context.Background(), admin, accounts.LinkRequest{Ref: "new@example.com", Purpose: store.TokenInvite, BaseURL: baseURL}); accounts.ErrorCode(err) != accounts.Conflict {
		t.Fatalf("invitation of a user with a password: %v, want a conflict", err)
	}
	// The token is stored hashed.
	secret := link[strings.Index(link, "token=")+6:]
	if _, err := h.Store.GetToken(context.Background(), secret); err == nil {
		t.Fatal("the link's secret is stored as is")
	}
}

// TestSingleLogout: crewjam's SP sends LogoutRequests (HTTP-Redirect and
// HTTP-POST); the IdP session ends only when NameID and SessionIndex name
// it, and a signed LogoutResponse goes to the registered SLO URL only.
func TestSingleLogout(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	const slo = "https://login.flex.us1.twilio.com/logout/callback"
	h.updateSP(t, func(p *sp.ServiceProvider) { p.SLOURL = slo })
	base := h.URL
	flex := samltest.FlexSP(t, base)
	sloURL, _ := url.Parse(slo)
	flex.SloURL = *sloURL
	_, md := samltest.NewBrowser(t).Get(base + "/saml/metadata")
	samltest.MustContain(t, md, `SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="`+base+`/saml/slo"`)

	signIn := func(b *samltest.Browser) string {
		t.Helper()
		page, reqID := b.StartSignIn(flex)
		_, body := b.Login(base, page, "agent@example.com", password)
		return samltest.Accepts(t, flex, samltest.Form(t, body), reqID).AuthnStatements[0].SessionIndex
	}
	signedIn := func(b *samltest.Browser) bool {
		_, body := b.Get(base + "/launcher")
		return strings.Contains(body, "Signed in as")
	}
	b := samltest.NewBrowser(t)
	b.C.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	index := signIn(b)

	// A request naming another session ends nothing.
	lr, err := flex.MakeLogoutRequest(base+"/saml/slo", "agent@example.com", crewjam.WithSessionIndex("_forged"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := b.C.Get(lr.Redirect("r1").String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, slo+"?SAMLResponse=") {
		t.Fatalf("forged logout: %d to %q", resp.StatusCode, loc)
	}
	// crewjam's SP reports a non-success status as an error; read it.
	q, _ := url.Parse(loc)
	compressed, _ := base64.StdEncoding.DecodeString(q.Query().Get("SAMLResponse"))
	xmlDoc, _ := io.ReadAll(flate.NewReader(bytes.NewReader(compressed)))
	if !bytes.Contains(xmlDoc, []byte(`Value="`+crewjam.StatusRequester+`"`)) {
		t.Fatalf("forged logout answered:\n%s", xmlDoc)
	}
	if _, err := flex.ParseLogoutResponse(getRequest(loc), []string{lr.ID}); err == nil {
		t.Fatal("crewjam accepted a Requester status as success")
	}
	if !signedIn(b) {
		t.Fatal("a LogoutRequest with a foreign SessionIndex ended the session")
	}

	// The right one, by redirect.
	lr, _ = flex.MakeLogoutRequest(base+"/saml/slo", "agent@example.com", crewjam.WithSessionIndex(index))
	resp, err = b.C.Get(lr.Redirect("r2").String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got, err := flex.ParseLogoutResponse(getRequest(resp.Header.Get("Location")), []string{lr.ID})
	if err != nil || got.Status.StatusCode.Value != crewjam.StatusSuccess {
		t.Fatalf("logout answered %v, %v", got, err)
	}
	if signedIn(b) {
		t.Fatal("single logout did not end the session")
	}
	// Replayed: refused.
	resp, err = b.C.Get(lr.Redirect("r2").String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	samltest.WantStatus(t, "replayed LogoutRequest", resp.StatusCode, http.StatusConflict, "")

	// By POST: the signed LogoutResponse is posted to the SLO URL.
	index = signIn(b)
	lr, _ = flex.MakeLogoutRequest(base+"/saml/slo", "agent@example.com", crewjam.WithSessionIndex(index))
	doc := etree.NewDocument()
	doc.SetRoot(lr.Element())
	raw, _ := doc.WriteToBytes()
	status, body := b.Post(base+"/saml/slo", url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(raw)}, "RelayState": {"r3"}})
	samltest.WantStatus(t, "POST logout", status, http.StatusOK, body)
	form := samltest.Form(t, body)
	if form.Action != slo || form.RelayState != "r3" {
		t.Fatalf("LogoutResponse posted to %q relay %q", form.Action, form.RelayState)
	}
	req, _ := http.NewRequest(http.MethodPost, slo, strings.NewReader(url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(form.XML)}, "RelayState": {"r3"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if got, err := flex.ParseLogoutResponse(req, []string{lr.ID}); err != nil || got.Status.StatusCode.Value != crewjam.StatusSuccess {
		t.Fatalf("posted LogoutResponse: %v, %v", got, err)
	}
	if signedIn(b) {
		t.Fatal("POST single logout did not end the session")
	}
}

// TestSharedAddressShiftStart: a contact centre signs a shift in from one
// NAT address at once. Concurrent correct sign-ins are never throttled by
// the address rule, however many; failed ones from that address are
// counted, and past the address threshold every account there waits.
func TestSharedAddressShiftStart(t *testing.T) {
	h := newTestIdP(t, idpOptions{Lockout: accounts.LockoutPolicy{AddressBackoffAfter: 3, BaseDelay: time.Hour, MaxDelay: time.Hour}})
	const agents = 12
	var emails []string
	for i := range agents {
		emails = append(emails, fmt.Sprintf("shift%02d@example.com", i))
		h.addUser(t, users.User{Email: emails[i], Roles: []string{"agent"}})
	}
	base := h.URL
	sp := samltest.FlexSP(t, base)

	var wg sync.WaitGroup
	statuses := make([]int, agents)
	for i := range agents {
		wg.Go(func() {
			b := samltest.NewBrowser(t)
			page, _ := b.StartSignIn(sp)
			statuses[i], _ = b.Login(base, page, emails[i], password)
		})
	}
	wg.Wait()
	for i, st := range statuses {
		if st != http.StatusOK {
			t.Fatalf("agent %d: status %d; concurrent correct sign-ins from one address must all pass", i, st)
		}
	}

	// Three failures from the address (on three accounts) start its back-off.
	b := samltest.NewBrowser(t)
	page, _ := b.StartSignIn(sp)
	for i := range 3 {
		if st, _ := b.Login(base, page, emails[i], "wrong password!"); st != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d, want 401", i, st)
		}
	}
	st, body := b.Login(base, page, "shift11@example.com", password)
	samltest.WantStatus(t, "after the address threshold", st, http.StatusTooManyRequests, body)
	samltest.MustContain(t, body, "Too many failed sign-ins")
}
