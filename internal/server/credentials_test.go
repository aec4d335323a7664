package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// sessionCookie returns the value of b's session cookie for base.
func sessionCookie(b *samltest.Browser, base string) string {
	u, _ := url.Parse(base)
	for _, c := range b.C.Jar.Cookies(u) {
		if c.Name == "flexidp_session" {
			return c.Value
		}
	}
	return ""
}

// withSessionCookie is a new browser that holds only the session cookie v.
func withSessionCookie(t *testing.T, base, v string) *samltest.Browser {
	t.Helper()
	b := samltest.NewBrowser(t)
	u, _ := url.Parse(base)
	b.C.Jar.SetCookies(u, []*http.Cookie{{Name: "flexidp_session", Value: v, Path: "/"}})
	return b
}

// TestNewSignInEndsPreviousSession: a ForceAuthn sign-in, or one as
// another user, in a browser that has a session ends that session on the
// server, so the cookie it replaced is worthless.
func TestNewSignInEndsPreviousSession(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	base := h.URL
	sp := samltest.FlexSP(t, base)

	b, _ := passwordPage(t, base, "agent@example.com", password)
	first := sessionCookie(b, base)
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
			redirect, _ := samltest.AuthnRedirect(t, sp, "", func(r *crewjam.AuthnRequest) { yes := true; r.ForceAuthn = &yes })
			_, page := b.Get(redirect)
			samltest.MustContain(t, page, `name="password"`)
			status, body := b.Login(base, page, tc.email, password)
			samltest.WantStatus(t, "re-sign-in", status, http.StatusOK, body)
			samltest.Form(t, body)
			cur := sessionCookie(b, base)
			if cur == "" || cur == old {
				t.Fatalf("the sign-in did not issue a new session cookie")
			}
			// The replaced cookie no longer signs anybody in ...
			_, body = withSessionCookie(t, base, old).Get(base + "/launcher")
			samltest.MustContain(t, body, `name="password"`)
			// ... and the new one does.
			_, body = withSessionCookie(t, base, cur).Get(base + "/launcher")
			samltest.MustContain(t, strings.ToLower(body), tc.email)
			old = cur
		})
	}
	for email, want := range map[string]int{"agent@example.com": 0, "sam.supervisor@example.com": 1} {
		if n := h.sessions(t, email); n != want {
			t.Errorf("%s has %d session(s) on the server, want %d", email, n, want)
		}
	}
}

// TestCredentialChangeEndsPendingSignIn: a sign-in whose password was
// checked, waiting for its second factor (code or enrolment), cannot be
// completed after the password is set (by an administrator or a link), the
// second factor is reset, or the account is disabled (even if enabled
// again).
func TestCredentialChangeEndsPendingSignIn(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	base := h.URL
	ctx := context.Background()
	for _, email := range []string{"root@example.com", "new-admin1@example.com", "new-admin2@example.com", "new-admin3@example.com"} {
		h.addUser(t, users.User{Email: email, Roles: []string{"admin"}})
	}

	// root enrols.
	b, body := passwordPage(t, base, "root@example.com", password)
	secret := enrolmentSecret(t, body)
	status, body := b.Post(base+"/mfa/setup", url.Values{"csrf": {samltest.HiddenFields(body)["csrf"]}, "state": {samltest.HiddenFields(body)["state"]},
		"code": {totp(t, secret, time.Now())}})
	samltest.WantStatus(t, "enrolment", status, http.StatusOK, body)
	// Each stale sign-in offers a different recovery code, so that without
	// the credential check each would succeed on its own.
	recovery := recoveryRE.FindAllStringSubmatch(body, -1)

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	setPassword := func(email string) func() {
		return func() { _, err := h.Accounts.SetPassword(ctx, admin, email, password); must(err) }
	}
	viaLink := func(email string) func() {
		return func() {
			link := h.issueLink(t, accounts.LinkRequest{Ref: email, Purpose: store.TokenReset})
			lb := samltest.NewBrowser(t)
			_, page := lb.Get(link)
			f := samltest.HiddenFields(page)
			status, body := lb.Post(base+"/password", url.Values{"csrf": {f["csrf"]}, "token": {f["token"]}, "password": {password}, "confirm": {password}})
			samltest.WantStatus(t, "password link", status, http.StatusOK, body)
		}
	}
	disableEnable := func(email string) func() {
		return func() {
			_, err := h.Accounts.Disable(ctx, admin, email)
			must(err)
			must(h.Accounts.Enable(ctx, admin, email))
		}
	}
	resetMFA := func(email string) func() {
		return func() { _, err := h.Accounts.ResetMFA(ctx, admin, email); must(err) }
	}
	tests := []struct {
		name   string
		email  string
		change func()
	}{
		{"code, after set-password", "root@example.com", setPassword("root@example.com")},
		{"code, after a password link", "root@example.com", viaLink("root@example.com")},
		{"code, after disable and enable", "root@example.com", disableEnable("root@example.com")},
		{"code, after reset-mfa", "root@example.com", resetMFA("root@example.com")},
		{"enrolment, after set-password", "new-admin1@example.com", setPassword("new-admin1@example.com")},
		{"enrolment, after a password link", "new-admin2@example.com", viaLink("new-admin2@example.com")},
		{"enrolment, after disable and enable", "new-admin3@example.com", disableEnable("new-admin3@example.com")},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, body := passwordPage(t, base, tc.email, password)
			f := samltest.HiddenFields(body)
			path, code := "/login/mfa", recovery[i][1]
			if strings.Contains(body, `id="secret"`) {
				path, code = "/mfa/setup", totp(t, enrolmentSecret(t, body), time.Now())
			}
			tc.change()
			status, body := b.Post(base+path, url.Values{"csrf": {f["csrf"]}, "state": {f["state"]}, "code": {code}})
			samltest.WantStatus(t, "second factor after the change", status, http.StatusBadRequest, body)
			samltest.MustContain(t, body, "Your sign-in expired, start again")
			if n := h.sessions(t, tc.email); n != 0 {
				t.Fatalf("%s has a session after a stale second factor", tc.email)
			}
		})
	}

	// A sign-in started after the changes completes: only the stale
	// ones were refused.
	b, body = passwordPage(t, base, "new-admin1@example.com", password)
	status, body = b.Post(base+"/mfa/setup", url.Values{"csrf": {samltest.HiddenFields(body)["csrf"]}, "state": {samltest.HiddenFields(body)["state"]},
		"code": {totp(t, enrolmentSecret(t, body), time.Now())}})
	samltest.WantStatus(t, "enrolment started after the changes", status, http.StatusOK, body)
	samltest.MustContain(t, body, "Recovery codes")
}

// TestEnrolmentSecretBelongsToOneAttempt: a TOTP secret shown at
// enrolment belongs to that one attempt (browser and sign-in, or browser
// and session) and is stored nowhere until confirmed, so someone who
// reached an admin's enrolment first cannot plant a secret the admin
// then confirms.
func TestEnrolmentSecretBelongsToOneAttempt(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	base, st := h.URL, h.Store
	ctx := context.Background()
	root := h.addUser(t, users.User{Email: "root@example.com", Roles: []string{"admin"}})
	post := func(b *samltest.Browser, path string, f map[string]string, code string) (int, string) {
		t.Helper()
		return b.Post(base+path, url.Values{"csrf": {f["csrf"]}, "state": {f["state"]}, "code": {code}})
	}

	// The attacker, with the admin's password, reaches the enrolment and
	// notes its secret; then the admin signs in.
	attacker, page := passwordPage(t, base, "root@example.com", password)
	planted, attackerForm := enrolmentSecret(t, page), samltest.HiddenFields(page)
	adminB, page := passwordPage(t, base, "root@example.com", password)
	secret, adminForm := enrolmentSecret(t, page), samltest.HiddenFields(page)
	if secret == planted {
		t.Fatal("the second enrolment attempt was shown the first attempt's secret")
	}
	if _, err := st.GetMFA(ctx, root.ID); err == nil {
		t.Fatal("an unconfirmed enrolment secret is stored")
	}
	// The planted secret's code does not confirm the admin's attempt, and
	// the attacker's state is useless in another browser.
	status, body := post(adminB, "/mfa/setup", adminForm, totp(t, planted, time.Now()))
	samltest.WantStatus(t, "the other attempt's code", status, http.StatusUnauthorized, body)
	other := samltest.NewBrowser(t)
	_, page = other.Get(base + "/login")
	status, body = post(other, "/mfa/setup", map[string]string{"csrf": samltest.HiddenFields(page)["csrf"], "state": attackerForm["state"]},
		totp(t, planted, time.Now()))
	samltest.WantStatus(t, "an attempt's state in another browser", status, http.StatusBadRequest, body)

	status, body = post(adminB, "/mfa/setup", adminForm, totp(t, secret, time.Now()))
	samltest.WantStatus(t, "the admin's enrolment", status, http.StatusOK, body)
	samltest.MustContain(t, body, "Recovery codes")
	// The attacker's attempt can no longer enrol, and the planted secret
	// never passes the second factor.
	status, body = post(attacker, "/mfa/setup", attackerForm, totp(t, planted, time.Now().Add(-30*time.Second)))
	samltest.WantStatus(t, "the attacker's attempt after the admin enrolled", status, http.StatusConflict, body)
	later, page := passwordPage(t, base, "root@example.com", password)
	samltest.MustContain(t, page, `name="code"`)
	status, body = post(later, "/login/mfa", samltest.HiddenFields(page), totp(t, planted, time.Now()))
	samltest.WantStatus(t, "the planted secret's code at sign-in", status, http.StatusUnauthorized, body)
	m, err := st.GetMFA(ctx, root.ID)
	if err != nil || m.ConfirmedAt.IsZero() {
		t.Fatalf("the admin's factor is not stored as confirmed: %+v, %v", m, err)
	}

	// From the launcher too: each signed-in browser gets its own secret,
	// and one's state does not confirm in another.
	b1, _ := passwordPage(t, base, "agent@example.com", password)
	b2, _ := passwordPage(t, base, "agent@example.com", password)
	_, page1 := b1.Get(base + "/mfa/setup")
	_, page2 := b2.Get(base + "/mfa/setup")
	s1, s2 := enrolmentSecret(t, page1), enrolmentSecret(t, page2)
	if s1 == s2 {
		t.Fatal("two launcher enrolments were shown the same secret")
	}
	status, body = post(b2, "/mfa/setup", map[string]string{"csrf": samltest.HiddenFields(page2)["csrf"], "state": samltest.HiddenFields(page1)["state"]},
		totp(t, s1, time.Now()))
	samltest.WantStatus(t, "a launcher enrolment's state in another browser", status, http.StatusBadRequest, body)
	status, body = post(b2, "/mfa/setup", samltest.HiddenFields(page2), totp(t, s1, time.Now()))
	samltest.WantStatus(t, "another launcher enrolment's code", status, http.StatusUnauthorized, body)
	status, body = post(b2, "/mfa/setup", samltest.HiddenFields(page2), totp(t, s2, time.Now()))
	samltest.WantStatus(t, "launcher enrolment", status, http.StatusOK, body)
	samltest.MustContain(t, body, "Two-step verification is on")
}
