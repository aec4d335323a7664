package main

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

	"github.com/flexidp/flexidp/internal/mfa"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/postgres"
)

// openPG opens the test database directly, to check what was written.
func openPG(t *testing.T, e *testEnv) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func auditActions(t *testing.T, st store.Store, f store.AuditFilter) []string {
	t.Helper()
	events, err := st.ListAudit(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		out = append(out, e.Action+":"+e.Reason)
	}
	return out
}

func wantStatus(t *testing.T, what string, got, want int, body string) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: status %d, want %d\n%s", what, got, want, body)
	}
}

// TestLockoutAcrossReplicas: failed sign-ins spread over two replicas of
// one database lock the account; the locked page is the same for an
// unknown account; idp users unlock ends the lock; the audit trail has it
// all and the CLI reads it back.
func TestLockoutAcrossReplicas(t *testing.T) {
	e := newTestEnv(t)
	setupFlex(t, e)
	flags := []string{"--lockout-backoff-after", "2", "--lockout-threshold", "4", "--lockout-delay", "1ms", "--lockout-max-delay", "2ms"}
	replicas := []string{e.startServe(flags...), e.startServe(flags...)}
	b := newBrowser(t)
	try := func(i int, email, pw string) (int, string) {
		t.Helper()
		base := replicas[i%2]
		_, page := b.get(base + "/login")
		time.Sleep(5 * time.Millisecond) // outlast the 1-2 ms back-off; not a timing assertion
		return b.login(base, page, email, pw)
	}
	for i := range 4 {
		status, body := try(i, "agent@example.com", "wrong password")
		wantStatus(t, "failure", status, http.StatusUnauthorized, body)
	}
	// Locked now, on both replicas, even with the right password.
	for i := range 2 {
		status, body := try(i, "agent@example.com", password)
		wantStatus(t, "locked account", status, http.StatusTooManyRequests, body)
		mustContain(t, body, "Too many failed sign-ins")
	}
	// An unknown account locks the same way and shows the same page.
	var lockedUnknown string
	for i := range 5 {
		_, lockedUnknown = try(i, "nobody@example.com", "wrong password")
	}
	_, lockedKnown := try(0, "agent@example.com", password)
	re := regexp.MustCompile(`Try again in [0-9hms]+|request [0-9a-f]+|value="[^"]*"|nobody@example.com|agent@example.com`)
	if re.ReplaceAllString(lockedUnknown, "") != re.ReplaceAllString(lockedKnown, "") {
		t.Fatalf("locked pages differ for unknown and existing accounts:\n%s\n---\n%s", lockedUnknown, lockedKnown)
	}

	out := e.cli("", "users", "unlock", "--email", "AGENT@example.com", "--actor", "alice")
	mustContain(t, out, "unlocked acct:agent@example.com")
	status, body := try(1, "agent@example.com", password)
	wantStatus(t, "sign-in after unlock", status, http.StatusOK, body)
	mustContain(t, body, "Signed in as")

	st := openPG(t, e)
	got := strings.Join(auditActions(t, st, store.AuditFilter{User: "agent@example.com"}), " ")
	for _, want := range []string{"signin.failure:wrong password", "lockout:too many failed sign-ins", "signin.failure:throttled",
		"admin.user.unlock:acct:agent@example.com", "signin.success:password"} {
		if !strings.Contains(got, want) {
			t.Errorf("audit trail lacks %q: %s", want, got)
		}
	}
	if got := auditActions(t, st, store.AuditFilter{User: "nobody@example.com", Action: "signin.failure", Limit: 1}); len(got) != 1 || got[0] != "signin.failure:throttled" {
		t.Errorf("unknown account's failures not audited: %v", got)
	}
	out = e.cli("", "audit", "search", "--user", "agent@example.com", "--action", "admin", "--since", "1h")
	mustContain(t, out, "admin.user.unlock", "alice")
	out = e.cli("", "audit", "tail", "-n", "3", "--json")
	if n := strings.Count(out, "\n"); n < 3 {
		t.Errorf("audit tail -n 3 printed %d lines:\n%s", n, out)
	}
	// Admin changes carry before and after, never the hash.
	out = e.cli("", "audit", "search", "--user", "gone@example.com", "--action", "admin.user.disable")
	mustContain(t, out, `"before":`, `"disabled":false`, `"disabled":true`)
	if strings.Contains(out, "$argon2id$") {
		t.Fatal("the audit log shows a password hash")
	}
}

var (
	secretRE   = regexp.MustCompile(`<code id="secret">([A-Z2-7 ]+)</code>`)
	recoveryRE = regexp.MustCompile(`<li><code>([A-Z2-7]{5}-[A-Z2-7]{5})</code></li>`)
)

// TestMFAEndToEnd: an admin must enrol at the first sign-in (QR code,
// recovery codes) and the pending SAML request is answered afterwards; a
// TOTP code is accepted once; recovery codes work once; reset-mfa starts
// over. Secrets are encrypted at rest.
func TestMFAEndToEnd(t *testing.T) {
	e := newTestEnv(t)
	setupFlex(t, e)
	e.cli(password+"\n", "users", "add", "--email", "root@example.com", "--roles", "admin")
	base := e.startServe("--key-encryption-key", "0123456789abcdef0123456789abcdef")
	sp := flexTestSP(t, base)
	st := openPG(t, e)

	b := newBrowser(t)
	redirect, reqID := authnRedirect(t, sp, "relay-mfa", nil)
	_, page := b.get(redirect)
	status, body := b.login(base, page, "root@example.com", password)
	wantStatus(t, "password of an admin", status, http.StatusOK, body)
	mustContain(t, body, "requires two-step verification", `src="data:image/png;base64,`)
	m := secretRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no secret on the enrolment page:\n%s", body)
	}
	secret := strings.ReplaceAll(m[1], " ", "")
	root, err := st.GetUserByEmail(context.Background(), "root@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if ss, _ := st.ListSessions(context.Background(), root.ID); len(ss) != 0 {
		t.Fatal("a session exists before the second factor")
	}

	code := func(at time.Time) string {
		c, err := mfa.Code(secret, at)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	f := hiddenFields(body)
	status, body = b.post(base+"/mfa/setup", url.Values{"csrf": {f["csrf"]}, "state": {f["state"]}, "code": {"000000"}})
	if code(time.Now()) != "000000" {
		wantStatus(t, "wrong enrolment code", status, http.StatusUnauthorized, body)
	}
	status, body = b.post(base+"/mfa/setup", url.Values{"csrf": {f["csrf"]}, "state": {f["state"]}, "code": {code(time.Now())}})
	wantStatus(t, "enrolment", status, http.StatusOK, body)
	codes := recoveryRE.FindAllStringSubmatch(body, -1)
	if len(codes) != mfa.RecoveryCodeCount {
		t.Fatalf("recovery page shows %d codes:\n%s", len(codes), body)
	}
	if rec, err := st.GetMFA(context.Background(), root.ID); err != nil || !strings.HasPrefix(string(rec.Secret), "flexidp-sealed:") {
		t.Fatalf("TOTP secret not encrypted at rest: %q, %v", rec.Secret, err)
	}
	f = hiddenFields(body)
	status, body = b.post(base+"/mfa/continue", url.Values{"csrf": {f["csrf"]}, "state": {f["state"]}})
	wantStatus(t, "continue", status, http.StatusOK, body)
	if form := samlForm(t, body); form.relayState != "relay-mfa" {
		t.Fatalf("the SAML flow did not continue after enrolment: relay %q", form.relayState)
	} else {
		flexAccepts(t, sp, form, reqID)
	}

	// A new browser: password, then the code. The code used to enrol is
	// refused (same time step), the next period's is accepted.
	signIn := func(c string) (int, string) {
		t.Helper()
		b := newBrowser(t)
		page, _ := b.startSignIn(sp)
		status, body := b.login(base, page, "root@example.com", password)
		wantStatus(t, "password", status, http.StatusOK, body)
		mustContain(t, body, "Two-step verification", `name="code"`)
		f := hiddenFields(body)
		return b.post(base+"/login/mfa", url.Values{"csrf": {f["csrf"]}, "state": {f["state"]}, "code": {c}})
	}
	status, body = signIn(code(time.Now()))
	wantStatus(t, "replayed TOTP code", status, http.StatusUnauthorized, body)
	mustContain(t, body, "already been used")
	status, body = signIn(code(time.Now().Add(30 * time.Second)))
	wantStatus(t, "next TOTP code", status, http.StatusOK, body)
	samlForm(t, body)
	status, body = signIn(strings.ToLower(codes[0][1]))
	wantStatus(t, "recovery code", status, http.StatusOK, body)
	samlForm(t, body)
	status, body = signIn(codes[0][1])
	wantStatus(t, "recovery code used twice", status, http.StatusUnauthorized, body)

	// A state issued to one browser is useless in another.
	b2 := newBrowser(t)
	_, page = b2.get(base + "/login")
	_, body = b2.login(base, page, "root@example.com", password)
	stolen := hiddenFields(body)["state"]
	b3 := newBrowser(t)
	_, page = b3.get(base + "/login")
	status, body = b3.post(base+"/login/mfa", url.Values{"csrf": {hiddenFields(page)["csrf"]}, "state": {stolen}, "code": {code(time.Now().Add(-30 * time.Second))}})
	wantStatus(t, "stolen state", status, http.StatusBadRequest, body)

	got := strings.Join(auditActions(t, st, store.AuditFilter{User: root.ID}), " ")
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

	// reset-mfa: the next sign-in enrols again.
	mustContain(t, e.cli("", "users", "reset-mfa", "--email", "root@example.com"), "removed the two-step verification")
	b4 := newBrowser(t)
	_, page = b4.get(base + "/login")
	_, body = b4.login(base, page, "root@example.com", password)
	mustContain(t, body, "requires two-step verification")

	// Optional MFA: an agent enrols from the launcher.
	b5 := newBrowser(t)
	_, page = b5.get(base + "/login")
	status, body = b5.login(base, page, "agent@example.com", password)
	wantStatus(t, "agent sign-in", status, http.StatusOK, body)
	mustContain(t, body, `href="/mfa/setup"`)
	_, body = b5.get(base + "/mfa/setup")
	m = secretRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no enrolment page:\n%s", body)
	}
	agentSecret := strings.ReplaceAll(m[1], " ", "")
	c, _ := mfa.Code(agentSecret, time.Now())
	status, body = b5.post(base+"/mfa/setup", url.Values{"csrf": {hiddenFields(body)["csrf"]}, "state": {hiddenFields(body)["state"]}, "code": {c}})
	wantStatus(t, "optional enrolment", status, http.StatusOK, body)
	mustContain(t, body, "Two-step verification is on", `href="/launcher"`)
}

var passwordLinkRE = regexp.MustCompile(`http://[^\s]+/password\?token=[A-Za-z0-9_-]+`)

// TestPasswordLinks: invite and reset-link print single-use, expiring
// links; the page enforces the policy; a reset ends every session.
func TestPasswordLinks(t *testing.T) {
	e := newTestEnv(t)
	setupFlex(t, e)
	base := e.startServe()
	e.getenv["IDP_BASE_URL"] = base
	out := e.cli("", "users", "invite", "--email", "new@example.com", "--name", "New Agent", "--roles", "agent")
	link := passwordLinkRE.FindString(out)
	if link == "" {
		t.Fatalf("no link in:\n%s", out)
	}
	b := newBrowser(t)
	status, body := b.get(link)
	wantStatus(t, "invite page", status, http.StatusOK, body)
	mustContain(t, body, "Welcome", "new@example.com")
	f := hiddenFields(body)
	post := func(pw, confirm string) (int, string) {
		return b.post(base+"/password", url.Values{"csrf": {f["csrf"]}, "token": {f["token"]}, "password": {pw}, "confirm": {confirm}})
	}
	for _, c := range []struct{ pw, confirm, says string }{
		{"short", "short", "at least 8"},
		{"NEW@example.com", "NEW@example.com", "email"},
		{"long enough one", "long enough two", "differ"},
		{"Password1", "Password1", "The password is in a list of commonly used passwords; choose another."},
	} {
		status, body := post(c.pw, c.confirm)
		wantStatus(t, "weak password "+c.pw, status, http.StatusBadRequest, body)
		mustContain(t, body, c.says)
	}
	// Without the CSRF token nothing happens.
	status, _ = b.post(base+"/password", url.Values{"token": {f["token"]}, "password": {"a fine password"}, "confirm": {"a fine password"}})
	wantStatus(t, "no CSRF", status, http.StatusForbidden, "")
	status, body = post("a fine password", "a fine password")
	wantStatus(t, "set password", status, http.StatusOK, body)
	mustContain(t, body, "Your password is set")
	status, body = post("another password", "another password")
	wantStatus(t, "link used twice", status, http.StatusGone, body)
	status, _ = b.get(link)
	wantStatus(t, "used link", status, http.StatusGone, "")

	// Sign in with it, then reset: the session ends.
	_, page := b.get(base + "/login")
	status, body = b.login(base, page, "new@example.com", "a fine password")
	wantStatus(t, "sign-in with the chosen password", status, http.StatusOK, body)
	mustContain(t, e.cli("", "sessions", "list", "--email", "new@example.com"), "active")
	out = e.cli("", "users", "reset-link", "--email", "new@example.com", "--expires", "1h")
	link = passwordLinkRE.FindString(out)
	b2 := newBrowser(t)
	_, body = b2.get(link)
	f2 := hiddenFields(body)
	status, body = b2.post(base+"/password", url.Values{"csrf": {f2["csrf"]}, "token": {f2["token"]}, "password": {"a newer password"}, "confirm": {"a newer password"}})
	wantStatus(t, "reset", status, http.StatusOK, body)
	status, _ = b.get(base + "/launcher")
	if status != http.StatusOK {
		t.Fatalf("launcher: %d", status)
	}
	_, body = b.get(base + "/launcher")
	mustContain(t, body, `name="password"`) // redirected to the login form: the session ended
	e.cliWant(1, "", "users", "invite", "--email", "new@example.com")
	// The token is stored hashed.
	st := openPG(t, e)
	secret := link[strings.Index(link, "token=")+6:]
	if _, err := st.GetToken(context.Background(), secret); err == nil {
		t.Fatal("the link's secret is stored as is")
	}
}

// TestSessionsCLI lists and revokes sessions.
func TestSessionsCLI(t *testing.T) {
	e := newTestEnv(t)
	setupFlex(t, e)
	base := e.startServe()
	b1, b2 := newBrowser(t), newBrowser(t)
	for _, b := range []*browser{b1, b2} {
		_, page := b.get(base + "/login")
		status, body := b.login(base, page, "agent@example.com", password)
		wantStatus(t, "sign-in", status, http.StatusOK, body)
	}
	out := e.cli("", "sessions", "list", "--email", "agent@example.com")
	ids := regexp.MustCompile(`(?m)^([0-9a-f]{64})\s`).FindAllStringSubmatch(out, -1)
	if len(ids) != 2 {
		t.Fatalf("sessions list:\n%s", out)
	}
	e.cli("", "sessions", "revoke", "--id", ids[0][1])
	mustContain(t, e.cli("", "sessions", "revoke", "--email", "agent@example.com"), "ended 1 session")
	for _, b := range []*browser{b1, b2} {
		_, body := b.get(base + "/launcher")
		mustContain(t, body, `name="password"`)
	}
	e.cliWant(2, "", "sessions", "revoke")
}

// TestSingleLogout: crewjam's SP sends LogoutRequests (HTTP-Redirect and
// HTTP-POST); the IdP session ends only when NameID and SessionIndex name
// it, and a signed LogoutResponse goes to the registered SLO URL only.
func TestSingleLogout(t *testing.T) {
	e := newTestEnv(t)
	setupFlex(t, e)
	const slo = "https://login.flex.us1.twilio.com/logout/callback"
	e.cli("", "sp", "set", "--sp", "flex", "--slo-url", slo)
	base := e.startServe()
	sp := flexTestSP(t, base)
	sloURL, _ := url.Parse(slo)
	sp.SloURL = *sloURL
	md := string(getBody(t, base+"/saml/metadata"))
	mustContain(t, md, `SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="`+base+`/saml/slo"`)

	signIn := func(b *browser) string {
		t.Helper()
		page, reqID := b.startSignIn(sp)
		_, body := b.login(base, page, "agent@example.com", password)
		return flexAccepts(t, sp, samlForm(t, body), reqID).AuthnStatements[0].SessionIndex
	}
	signedIn := func(b *browser) bool {
		_, body := b.get(base + "/launcher")
		return strings.Contains(body, "Signed in as")
	}
	b := newBrowser(t)
	b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	index := signIn(b)

	// A request naming another session ends nothing.
	lr, err := sp.MakeLogoutRequest(base+"/saml/slo", "agent@example.com", crewjam.WithSessionIndex("_forged"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := b.c.Get(lr.Redirect("r1").String())
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
	if _, err := sp.ParseLogoutResponse(httpGetRequest(loc), []string{lr.ID}); err == nil {
		t.Fatal("crewjam accepted a Requester status as success")
	}
	if !signedIn(b) {
		t.Fatal("a LogoutRequest with a foreign SessionIndex ended the session")
	}

	// The right one, by redirect.
	lr, _ = sp.MakeLogoutRequest(base+"/saml/slo", "agent@example.com", crewjam.WithSessionIndex(index))
	resp, err = b.c.Get(lr.Redirect("r2").String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got, err := sp.ParseLogoutResponse(httpGetRequest(resp.Header.Get("Location")), []string{lr.ID})
	if err != nil || got.Status.StatusCode.Value != crewjam.StatusSuccess {
		t.Fatalf("logout answered %v, %v", got, err)
	}
	if signedIn(b) {
		t.Fatal("single logout did not end the session")
	}
	// Replayed: refused.
	resp, _ = b.c.Get(lr.Redirect("r2").String())
	resp.Body.Close()
	wantStatus(t, "replayed LogoutRequest", resp.StatusCode, http.StatusConflict, "")

	// By POST: the signed LogoutResponse is posted to the SLO URL.
	index = signIn(b)
	lr, _ = sp.MakeLogoutRequest(base+"/saml/slo", "agent@example.com", crewjam.WithSessionIndex(index))
	doc := etree.NewDocument()
	doc.SetRoot(lr.Element())
	raw, _ := doc.WriteToBytes()
	status, body := b.post(base+"/saml/slo", url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(raw)}, "RelayState": {"r3"}})
	wantStatus(t, "POST logout", status, http.StatusOK, body)
	form := samlForm(t, body)
	if form.action != slo || form.relayState != "r3" {
		t.Fatalf("LogoutResponse posted to %q relay %q", form.action, form.relayState)
	}
	req, _ := http.NewRequest(http.MethodPost, slo, strings.NewReader(url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(form.xml)}, "RelayState": {"r3"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if got, err := sp.ParseLogoutResponse(req, []string{lr.ID}); err != nil || got.Status.StatusCode.Value != crewjam.StatusSuccess {
		t.Fatalf("posted LogoutResponse: %v, %v", got, err)
	}
	if signedIn(b) {
		t.Fatal("POST single logout did not end the session")
	}
}

func httpGetRequest(u string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, u, nil)
	return r
}

// TestSharedAddressShiftStart: a contact centre signs a shift in from one
// NAT address at once. Concurrent correct sign-ins are never throttled by
// the address rule, however many; failed ones from that address are
// counted, and past the address threshold every account there waits.
func TestSharedAddressShiftStart(t *testing.T) {
	e := newTestEnv(t)
	setupFlex(t, e)
	const agents = 12
	for i := range agents {
		e.cli(password+"\n", "users", "add", "--email", fmt.Sprintf("shift%02d@example.com", i), "--roles", "agent")
	}
	base := e.startServe("--lockout-address-backoff-after", "3", "--lockout-delay", "1h", "--lockout-max-delay", "1h")
	sp := flexTestSP(t, base)

	var wg sync.WaitGroup
	statuses := make([]int, agents)
	for i := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := newBrowser(t)
			page, _ := b.startSignIn(sp)
			statuses[i], _ = b.login(base, page, fmt.Sprintf("shift%02d@example.com", i), password)
		}()
	}
	wg.Wait()
	for i, st := range statuses {
		if st != http.StatusOK {
			t.Fatalf("agent %d: status %d; concurrent correct sign-ins from one address must all pass", i, st)
		}
	}

	// Three failures from the address (on three accounts) start its back-off.
	b := newBrowser(t)
	page, _ := b.startSignIn(sp)
	for i := range 3 {
		if st, _ := b.login(base, page, fmt.Sprintf("shift%02d@example.com", i), "wrong password!"); st != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d, want 401", i, st)
		}
	}
	st, body := b.login(base, page, "shift11@example.com", password)
	if st != http.StatusTooManyRequests {
		t.Fatalf("after the address threshold: status %d, want 429\n%s", st, body)
	}
	mustContain(t, body, "Too many failed sign-ins")
}
