package server_test

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/mfa"
	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// signedInBrowser signs email in with pw in a new browser, which lands on
// the launcher.
func signedInBrowser(t *testing.T, base, email, pw string) *samltest.Browser {
	t.Helper()
	b := samltest.NewBrowser(t)
	_, page := b.Get(base + "/login")
	status, body := b.Login(base, page, email, pw)
	samltest.WantStatus(t, "sign-in of "+email, status, http.StatusOK, body)
	samltest.MustContain(t, body, "Your applications")
	return b
}

// accountPost posts form to the account page's action path with the
// browser's CSRF token.
func accountPost(t *testing.T, b *samltest.Browser, base, path string, form url.Values) (int, string) {
	t.Helper()
	_, page := b.Get(base + "/account")
	csrf := samltest.HiddenFields(page)["csrf"]
	if csrf == "" {
		t.Fatalf("no account page:\n%s", page)
	}
	form.Set("csrf", csrf)
	return b.Post(base+path, form)
}

// signedIn reports whether b's session is alive (the launcher shows).
func signedIn(t *testing.T, b *samltest.Browser, base string) bool {
	t.Helper()
	_, body := b.Get(base + "/launcher")
	return regexp.MustCompile(`Your applications`).MatchString(body)
}

// TestAccountPasswordChange: the current password is required and a wrong
// one counts as a failed sign-in; a weak new one gets the policy's
// sentence; a change ends the other browser's session and keeps this one.
func TestAccountPasswordChange(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	base := h.URL
	const email, next = "agent@example.com", "a brand new passphrase"
	a := signedInBrowser(t, base, email, password)
	other := signedInBrowser(t, base, email, password)

	_, launcher := a.Get(base + "/launcher")
	samltest.MustContain(t, launcher, `href="/account"`)
	status, body := a.Get(base + "/account")
	samltest.WantStatus(t, "account page", status, http.StatusOK, body)
	samltest.MustContain(t, body, "agent@example.com", "Alex Agent", "(this browser)", "Change password")

	// Without a session the page sends to the login form; without the
	// CSRF token nothing changes.
	status, body = samltest.NewBrowser(t).Get(base + "/account")
	samltest.WantStatus(t, "account without a session", status, http.StatusOK, body)
	samltest.MustContain(t, body, `action="/login"`)
	status, body = a.Post(base+"/account/password", url.Values{"current": {password}, "password": {next}, "confirm": {next}})
	samltest.WantStatus(t, "no CSRF token", status, http.StatusForbidden, body)

	var ve *users.ValidationError
	if !errors.As(h.Accounts.PasswordPolicy().Check("short", email), &ve) {
		t.Fatal("the policy accepts \"short\"")
	}
	tests := []struct {
		name             string
		current, pw, pw2 string
		status           int
		want             string
		failures         int
	}{
		{"wrong current password", "not my password", next, next, http.StatusUnauthorized, "Your current password is not correct.", 1},
		{"different confirmation", password, next, next + "x", http.StatusBadRequest, "The two new passwords differ.", 1},
		{"weak new password", password, "short", "short", http.StatusBadRequest, html.EscapeString("The password " + ve.Reason + "."), 0},
	}
	for _, tt := range tests {
		status, body := accountPost(t, a, base, "/account/password", url.Values{"current": {tt.current}, "password": {tt.pw}, "confirm": {tt.pw2}})
		samltest.WantStatus(t, tt.name, status, tt.status, body)
		samltest.MustContain(t, body, tt.want)
		th, err := h.Store.GetThrottle(context.Background(), accounts.AccountKey(email))
		if errors.Is(err, store.ErrNotFound) {
			err = nil // a right password clears the record
		}
		if err != nil || th.Failures != tt.failures {
			t.Errorf("%s: account throttle %+v, %v; want %d failure(s)", tt.name, th, err, tt.failures)
		}
		if !signedIn(t, other, base) {
			t.Fatalf("%s: the other browser was signed out", tt.name)
		}
	}

	status, body = accountPost(t, a, base, "/account/password", url.Values{"current": {password}, "password": {next}, "confirm": {next}})
	samltest.WantStatus(t, "password change", status, http.StatusOK, body)
	samltest.MustContain(t, body, "Your password is changed. 1 other session was signed out.")
	if signedIn(t, other, base) {
		t.Error("the other browser is still signed in after the password change")
	}
	if !signedIn(t, a, base) {
		t.Error("the browser that changed the password was signed out")
	}
	signedInBrowser(t, base, email, next)
	if got := h.audit(t, store.AuditFilter{Action: accounts.AuditPasswordChanged}); len(got) != 1 {
		t.Errorf("audit: %v", got)
	}
}

// TestAccountThrottle: a locked account refuses a password change even
// with the right current password.
func TestAccountThrottle(t *testing.T) {
	h := newTestIdP(t, idpOptions{Lockout: accounts.LockoutPolicy{BackoffAfter: 2, LockAfter: 2, LockFor: time.Hour}})
	base := h.URL
	const email = "agent@example.com"
	a := signedInBrowser(t, base, email, password)
	for range 2 {
		status, body := accountPost(t, a, base, "/account/password", url.Values{"current": {"guess"}, "password": {"a brand new passphrase"},
			"confirm": {"a brand new passphrase"}})
		samltest.WantStatus(t, "wrong current password", status, http.StatusUnauthorized, body)
	}
	status, body := accountPost(t, a, base, "/account/password", url.Values{"current": {password}, "password": {"a brand new passphrase"},
		"confirm": {"a brand new passphrase"}})
	samltest.WantStatus(t, "locked account", status, http.StatusTooManyRequests, body)
	samltest.MustContain(t, body, "Too many wrong passwords")
	// The guesses locked the sign-in too: the page is no side door.
	b := samltest.NewBrowser(t)
	_, page := b.Get(base + "/login")
	status, body = b.Login(base, page, email, password)
	samltest.WantStatus(t, "sign-in after guesses on the account page", status, http.StatusTooManyRequests, body)
}

// TestAccountSignOutOthers ends the other browsers' sessions only.
func TestAccountSignOutOthers(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	base := h.URL
	const email = "agent@example.com"
	a := signedInBrowser(t, base, email, password)
	b := signedInBrowser(t, base, email, password)
	c := signedInBrowser(t, base, "sam.supervisor@example.com", password)
	status, body := accountPost(t, a, base, "/account/sessions/revoke", url.Values{})
	samltest.WantStatus(t, "sign out everywhere else", status, http.StatusOK, body)
	samltest.MustContain(t, body, "1 other session was signed out.")
	if signedIn(t, b, base) {
		t.Error("the other browser is still signed in")
	}
	if !signedIn(t, a, base) || !signedIn(t, c, base) {
		t.Error("this browser, or another user's, was signed out")
	}
	if n := h.sessions(t, email); n != 1 {
		t.Errorf("%d sessions left", n)
	}
}

// TestAccountRecoveryCodes: the page links to the enrolment when the
// factor is off; when on, new codes need a code of the factor, and
// replace the old ones.
func TestAccountRecoveryCodes(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	base := h.URL
	const email = "agent@example.com"
	a := signedInBrowser(t, base, email, password)
	_, body := a.Get(base + "/account")
	samltest.MustContain(t, body, "Status: off.", `href="/mfa/setup"`)
	status, body := accountPost(t, a, base, "/account/recovery-codes", url.Values{"code": {"123456"}})
	samltest.WantStatus(t, "codes without a factor", status, http.StatusConflict, body)

	_, body = a.Get(base + "/mfa/setup")
	secret := enrolmentSecret(t, body)
	f := samltest.HiddenFields(body)
	status, body = a.Post(base+"/mfa/setup", url.Values{"csrf": {f["csrf"]}, "state": {f["state"]}, "code": {totp(t, secret, time.Now())}})
	samltest.WantStatus(t, "enrolment", status, http.StatusOK, body)
	old := recoveryRE.FindAllStringSubmatch(body, -1)

	_, body = a.Get(base + "/account")
	samltest.MustContain(t, body, "Status: on since", "Get new recovery codes")
	status, body = accountPost(t, a, base, "/account/recovery-codes", url.Values{"code": {"not-a-code"}})
	samltest.WantStatus(t, "wrong code", status, http.StatusUnauthorized, body)
	status, body = accountPost(t, a, base, "/account/recovery-codes", url.Values{"code": {totp(t, secret, time.Now().Add(30*time.Second))}})
	samltest.WantStatus(t, "new recovery codes", status, http.StatusOK, body)
	codes := recoveryRE.FindAllStringSubmatch(body, -1)
	if len(codes) != mfa.RecoveryCodeCount || len(old) != mfa.RecoveryCodeCount {
		t.Fatalf("%d new codes, %d old:\n%s", len(codes), len(old), body)
	}

	signInWith := func(code string) int {
		t.Helper()
		b := samltest.NewBrowser(t)
		_, page := b.Get(base + "/login")
		_, body := b.Login(base, page, email, password)
		f := samltest.HiddenFields(body)
		status, _ := b.Post(base+"/login/mfa", url.Values{"csrf": {f["csrf"]}, "state": {f["state"]}, "code": {code}})
		return status
	}
	if s := signInWith(old[1][1]); s != http.StatusUnauthorized {
		t.Errorf("an old recovery code: status %d, want 401", s)
	}
	if s := signInWith(codes[0][1]); s != http.StatusOK {
		t.Errorf("a new recovery code: status %d, want 200", s)
	}
}

var (
	releaseRowRE = regexp.MustCompile(`<tr><th scope="row">([^<]+)</th><td>(.*)</td></tr>`)
	releaseValRE = regexp.MustCompile(`<span class="value">([^<]*)</span>`)
	nameIDRE     = regexp.MustCompile(`NameID <code>([^<]*)</code>`)
)

// TestAccountReleasedAttributes: what the page says Flex receives is what
// Flex receives at a real sign-in.
func TestAccountReleasedAttributes(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	base := h.URL
	const email = "sam.supervisor@example.com"
	a := signedInBrowser(t, base, email, password)
	_, body := a.Get(base + "/account")
	samltest.MustContain(t, body, "What Flex receives about you", `id="release-flex"`)
	shown := map[string][]string{}
	for _, row := range releaseRowRE.FindAllStringSubmatch(body, -1) {
		for _, v := range releaseValRE.FindAllStringSubmatch(row[2], -1) {
			shown[html.UnescapeString(row[1])] = append(shown[html.UnescapeString(row[1])], html.UnescapeString(v[1]))
		}
	}
	m := nameIDRE.FindStringSubmatch(body)
	if len(shown) == 0 || m == nil {
		t.Fatalf("no released attributes on the page:\n%s", body)
	}

	sp := samltest.FlexSP(t, base)
	page, reqID := a.StartSignIn(sp)
	assertion := samltest.Accepts(t, sp, samltest.Form(t, page), reqID)
	got := samltest.Values(assertion)
	if len(got) != len(shown) {
		t.Errorf("page shows %v, Flex receives %v", shown, got)
	}
	for name, vs := range got {
		if !slices.Equal(shown[name], vs) {
			t.Errorf("%s: page shows %q, Flex receives %q", name, shown[name], vs)
		}
	}
	if html.UnescapeString(m[1]) != assertion.Subject.NameID.Value {
		t.Errorf("page shows NameID %q, Flex receives %q", m[1], assertion.Subject.NameID.Value)
	}
}
