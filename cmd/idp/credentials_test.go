package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/flexidp/flexidp/internal/mfa"
)

// sessionCookie returns the value of b's session cookie for base.
func (b *browser) sessionCookie(base string) string {
	b.t.Helper()
	u, _ := url.Parse(base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "flexidp_session" {
			return c.Value
		}
	}
	return ""
}

// withSessionCookie is a new browser that holds only the session cookie v.
func withSessionCookie(t *testing.T, base, v string) *browser {
	t.Helper()
	b := newBrowser(t)
	u, _ := url.Parse(base)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "flexidp_session", Value: v, Path: "/"}})
	return b
}

// TestNewSignInEndsPreviousSession: a ForceAuthn sign-in, or one as
// another user, in a browser that has a session ends that session on the
// server, so the cookie it replaced is worthless.
func TestNewSignInEndsPreviousSession(t *testing.T) {
	e := newTestEnv(t)
	setupFlex(t, e)
	base := e.startServe()
	sp := flexTestSP(t, base)
	st := openPG(t, e)
	ctx := context.Background()

	b := newBrowser(t)
	_, page := b.get(base + "/login")
	status, body := b.login(base, page, "agent@example.com", password)
	wantStatus(t, "first sign-in", status, http.StatusOK, body)
	first := b.sessionCookie(base)
	if first == "" {
		t.Fatal("no session cookie after signing in")
	}

	tests := []struct {
		name  string
		email string
	}{
		{"ForceAuthn, same user", "agent@example.com"},
		{"another user", "sam.supervisor@example.com"},
	}
	old := first
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			redirect, _ := authnRedirect(t, sp, "", func(r *crewjam.AuthnRequest) { yes := true; r.ForceAuthn = &yes })
			_, page := b.get(redirect)
			mustContain(t, page, `name="password"`)
			status, body := b.login(base, page, tc.email, password)
			wantStatus(t, "re-sign-in", status, http.StatusOK, body)
			samlForm(t, body)
			cur := b.sessionCookie(base)
			if cur == "" || cur == old {
				t.Fatalf("the sign-in did not issue a new session cookie")
			}
			// The replaced cookie no longer signs anybody in ...
			_, body = withSessionCookie(t, base, old).get(base + "/launcher")
			mustContain(t, body, `name="password"`)
			// ... and the new one does.
			_, body = withSessionCookie(t, base, cur).get(base + "/launcher")
			mustContain(t, strings.ToLower(body), tc.email)
			old = cur
		})
	}
	for _, email := range []string{"agent@example.com", "sam.supervisor@example.com"} {
		u, err := st.GetUserByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		if email == "sam.supervisor@example.com" {
			want = 1
		}
		if ss, err := st.ListSessions(ctx, u.ID); err != nil || len(ss) != want {
			t.Errorf("%s has %d session(s) on the server (%v), want %d", email, len(ss), err, want)
		}
	}
}

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
func passwordPage(t *testing.T, base, email, pw string) (*browser, string) {
	t.Helper()
	b := newBrowser(t)
	_, page := b.get(base + "/login")
	status, body := b.login(base, page, email, pw)
	wantStatus(t, "password of "+email, status, http.StatusOK, body)
	return b, body
}

// TestCredentialChangeEndsPendingSignIn: a sign-in whose password was
// checked, waiting for its second factor (code or enrolment), cannot be
// completed after the password is set (CLI or link), the second factor is
// reset, or the account is disabled (even if enabled again).
func TestCredentialChangeEndsPendingSignIn(t *testing.T) {
	e := newTestEnv(t)
	setupFlex(t, e)
	base := e.startServe()
	e.getenv["IDP_BASE_URL"] = base
	st := openPG(t, e)
	ctx := context.Background()
	e.cli(password+"\n", "users", "add", "--email", "root@example.com", "--roles", "admin")
	for _, n := range []string{"1", "2", "3"} {
		e.cli(password+"\n", "users", "add", "--email", "new-admin"+n+"@example.com", "--roles", "admin")
	}

	// root enrols.
	b, body := passwordPage(t, base, "root@example.com", password)
	secret := enrolmentSecret(t, body)
	status, body := b.post(base+"/mfa/setup", url.Values{"csrf": {hiddenFields(body)["csrf"]}, "state": {hiddenFields(body)["state"]},
		"code": {totp(t, secret, time.Now())}})
	wantStatus(t, "enrolment", status, http.StatusOK, body)
	// Each stale sign-in offers a different recovery code, so that without
	// the credential check each would succeed on its own.
	recovery := recoveryRE.FindAllStringSubmatch(body, -1)

	viaLink := func(email string) func() {
		return func() {
			link := passwordLinkRE.FindString(e.cli("", "users", "reset-link", "--email", email, "--no-email"))
			lb := newBrowser(t)
			_, page := lb.get(link)
			f := hiddenFields(page)
			status, body := lb.post(base+"/password", url.Values{"csrf": {f["csrf"]}, "token": {f["token"]}, "password": {password}, "confirm": {password}})
			wantStatus(t, "password link", status, http.StatusOK, body)
		}
	}
	cli := func(args ...string) func() {
		return func() {
			for _, a := range strings.Split(strings.Join(args, " "), " ; ") {
				e.cli(password+"\n", strings.Fields(a)...)
			}
		}
	}
	tests := []struct {
		name   string
		email  string
		change func()
	}{
		{"code, after set-password", "root@example.com", cli("users set-password --email root@example.com")},
		{"code, after a password link", "root@example.com", viaLink("root@example.com")},
		{"code, after disable and enable", "root@example.com", cli("users disable --email root@example.com ; users enable --email root@example.com")},
		{"code, after reset-mfa", "root@example.com", cli("users reset-mfa --email root@example.com")},
		{"enrolment, after set-password", "new-admin1@example.com", cli("users set-password --email new-admin1@example.com")},
		{"enrolment, after a password link", "new-admin2@example.com", viaLink("new-admin2@example.com")},
		{"enrolment, after disable and enable", "new-admin3@example.com", cli("users disable --email new-admin3@example.com ; users enable --email new-admin3@example.com")},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, body := passwordPage(t, base, tc.email, password)
			f := hiddenFields(body)
			path, code := "/login/mfa", recovery[i][1]
			if strings.Contains(body, `id="secret"`) {
				path, code = "/mfa/setup", totp(t, enrolmentSecret(t, body), time.Now())
			}
			tc.change()
			status, body := b.post(base+path, url.Values{"csrf": {f["csrf"]}, "state": {f["state"]}, "code": {code}})
			wantStatus(t, "second factor after the change", status, http.StatusBadRequest, body)
			mustContain(t, body, "Your sign-in expired, start again")
			u, err := st.GetUserByEmail(ctx, tc.email)
			if err != nil {
				t.Fatal(err)
			}
			if ss, _ := st.ListSessions(ctx, u.ID); len(ss) != 0 {
				t.Fatalf("%s has a session after a stale second factor", tc.email)
			}
		})
	}

	// A sign-in started after the changes completes: only the stale
	// ones were refused.
	b, body = passwordPage(t, base, "new-admin1@example.com", password)
	status, body = b.post(base+"/mfa/setup", url.Values{"csrf": {hiddenFields(body)["csrf"]}, "state": {hiddenFields(body)["state"]},
		"code": {totp(t, enrolmentSecret(t, body), time.Now())}})
	wantStatus(t, "enrolment started after the changes", status, http.StatusOK, body)
	mustContain(t, body, "Recovery codes")
}

// TestEnrolmentSecretBelongsToOneAttempt: a TOTP secret shown at
// enrolment belongs to that one attempt (browser and sign-in, or browser
// and session) and is stored nowhere until confirmed, so someone who
// reached an admin's enrolment first cannot plant a secret the admin
// then confirms.
func TestEnrolmentSecretBelongsToOneAttempt(t *testing.T) {
	e := newTestEnv(t)
	setupFlex(t, e)
	base := e.startServe()
	st := openPG(t, e)
	ctx := context.Background()
	e.cli(password+"\n", "users", "add", "--email", "root@example.com", "--roles", "admin")
	root, err := st.GetUserByEmail(ctx, "root@example.com")
	if err != nil {
		t.Fatal(err)
	}
	post := func(b *browser, path string, f map[string]string, code string) (int, string) {
		t.Helper()
		return b.post(base+path, url.Values{"csrf": {f["csrf"]}, "state": {f["state"]}, "code": {code}})
	}

	// The attacker, with the admin's password, reaches the enrolment and
	// notes its secret; then the admin signs in.
	attacker, page := passwordPage(t, base, "root@example.com", password)
	planted, attackerForm := enrolmentSecret(t, page), hiddenFields(page)
	admin, page := passwordPage(t, base, "root@example.com", password)
	secret, adminForm := enrolmentSecret(t, page), hiddenFields(page)
	if secret == planted {
		t.Fatal("the second enrolment attempt was shown the first attempt's secret")
	}
	if _, err := st.GetMFA(ctx, root.ID); err == nil {
		t.Fatal("an unconfirmed enrolment secret is stored")
	}
	// The planted secret's code does not confirm the admin's attempt, and
	// the attacker's state is useless in another browser.
	status, body := post(admin, "/mfa/setup", adminForm, totp(t, planted, time.Now()))
	wantStatus(t, "the other attempt's code", status, http.StatusUnauthorized, body)
	other := newBrowser(t)
	_, page = other.get(base + "/login")
	status, body = post(other, "/mfa/setup", map[string]string{"csrf": hiddenFields(page)["csrf"], "state": attackerForm["state"]},
		totp(t, planted, time.Now()))
	wantStatus(t, "an attempt's state in another browser", status, http.StatusBadRequest, body)

	status, body = post(admin, "/mfa/setup", adminForm, totp(t, secret, time.Now()))
	wantStatus(t, "the admin's enrolment", status, http.StatusOK, body)
	mustContain(t, body, "Recovery codes")
	// The attacker's attempt can no longer enrol, and the planted secret
	// never passes the second factor.
	status, body = post(attacker, "/mfa/setup", attackerForm, totp(t, planted, time.Now().Add(-30*time.Second)))
	wantStatus(t, "the attacker's attempt after the admin enrolled", status, http.StatusConflict, body)
	later, page := passwordPage(t, base, "root@example.com", password)
	mustContain(t, page, `name="code"`)
	status, body = post(later, "/login/mfa", hiddenFields(page), totp(t, planted, time.Now()))
	wantStatus(t, "the planted secret's code at sign-in", status, http.StatusUnauthorized, body)
	m, err := st.GetMFA(ctx, root.ID)
	if err != nil || m.ConfirmedAt.IsZero() {
		t.Fatalf("the admin's factor is not stored as confirmed: %+v, %v", m, err)
	}

	// From the launcher too: each signed-in browser gets its own secret,
	// and one's state does not confirm in another.
	b1, _ := passwordPage(t, base, "agent@example.com", password)
	b2, _ := passwordPage(t, base, "agent@example.com", password)
	_, page1 := b1.get(base + "/mfa/setup")
	_, page2 := b2.get(base + "/mfa/setup")
	s1, s2 := enrolmentSecret(t, page1), enrolmentSecret(t, page2)
	if s1 == s2 {
		t.Fatal("two launcher enrolments were shown the same secret")
	}
	status, body = post(b2, "/mfa/setup", map[string]string{"csrf": hiddenFields(page2)["csrf"], "state": hiddenFields(page1)["state"]},
		totp(t, s1, time.Now()))
	wantStatus(t, "a launcher enrolment's state in another browser", status, http.StatusBadRequest, body)
	status, body = post(b2, "/mfa/setup", hiddenFields(page2), totp(t, s1, time.Now()))
	wantStatus(t, "another launcher enrolment's code", status, http.StatusUnauthorized, body)
	status, body = post(b2, "/mfa/setup", hiddenFields(page2), totp(t, s2, time.Now()))
	wantStatus(t, "launcher enrolment", status, http.StatusOK, body)
	mustContain(t, body, "Two-step verification is on")
}
