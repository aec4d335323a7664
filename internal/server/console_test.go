package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// consoleBrowser is a browser on the admin console: it sends what a
// browser sends with a form of the page (Origin), and knows the user's
// TOTP secret once enrolled.
type consoleBrowser struct {
	*samltest.Browser
	t      *testing.T
	base   string
	secret string
	now    func() time.Time
}

// post submits form from a page of the console (same origin).
func (b *consoleBrowser) post(path string, form url.Values) (int, string) {
	b.t.Helper()
	return b.postFrom(b.base, path, form)
}

// postFrom submits form to path as if from a page of origin.
func (b *consoleBrowser) postFrom(origin, path string, form url.Values) (int, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return b.Do(req)
}

// get fetches a console path.
func (b *consoleBrowser) get(path string) (int, string) {
	b.t.Helper()
	return b.Get(b.base + path)
}

// submit posts a page's hidden fields plus extra to path.
func (b *consoleBrowser) submit(page, path string, extra url.Values) (int, string) {
	b.t.Helper()
	form := url.Values{}
	for k, v := range samltest.HiddenFields(page) {
		form.Set(k, v)
	}
	for k, v := range extra {
		form[k] = v
	}
	return b.post(path, form)
}

// code is the user's current TOTP code.
func (b *consoleBrowser) code() string {
	b.t.Helper()
	return totp(b.t, b.secret, b.now())
}

// consoleUser adds a user with a console role (and Flex role agent).
func (h *testIdP) consoleUser(t *testing.T, email string, role users.ConsoleRole) users.User {
	t.Helper()
	u := h.addUser(t, users.User{Email: email, Roles: []string{"agent"}})
	if _, err := h.Accounts.Grant(context.Background(), admin, u.ID, role); err != nil {
		t.Fatal(err)
	}
	return u
}

// consoleSignIn signs email in to the console in a new browser: the
// password, then the TOTP enrolment the console requires, and lands on
// the console's home page.
func (h *testIdP) consoleSignIn(t *testing.T, email string, now func() time.Time) *consoleBrowser {
	t.Helper()
	if now == nil {
		now = time.Now
	}
	b := &consoleBrowser{Browser: samltest.NewBrowser(t), t: t, base: h.ConsoleURL, now: now}
	status, page := b.get("/admin/login")
	samltest.WantStatus(t, "console login page", status, http.StatusOK, page)
	status, page = b.submit(page, "/admin/login", url.Values{"email": {email}, "password": {password}})
	samltest.WantStatus(t, "console password", status, http.StatusOK, page)
	b.secret = enrolmentSecret(t, page)
	status, page = b.submit(page, "/admin/mfa/setup", url.Values{"code": {b.code()}})
	samltest.WantStatus(t, "console enrolment", status, http.StatusOK, page)
	status, page = b.submit(page, "/admin/mfa/continue", nil)
	samltest.WantStatus(t, "console home after enrolment", status, http.StatusOK, page)
	samltest.MustContain(t, page, `id="home-welcome"`)
	return b
}

// TestConsoleRequiresSecondFactor: the password alone never reaches the
// console. A Flex sign-in without a second factor is sent to the
// console's sign-in; the console's sign-in asks for the enrolment of a
// factor after the password, and no session exists before it is done;
// a user without a console role is refused after the password.
func TestConsoleRequiresSecondFactor(t *testing.T) {
	h := newTestIdP(t, idpOptions{MFARequiredRoles: []string{}})
	h.consoleUser(t, "owner@example.com", users.ConsoleOwner)

	// A Flex sign-in with the password alone (no factor required).
	b, body := passwordPage(t, h.URL, "owner@example.com", password)
	samltest.MustContain(t, body, "Your applications")
	status, body := b.Get(h.URL + "/admin")
	samltest.WantStatus(t, "console with a password-only session", status, http.StatusOK, body)
	samltest.MustContain(t, body, "Sign in to the admin console", `action="/admin/login"`)
	if strings.Contains(body, "home-welcome") {
		t.Fatal("a password-only session reached the console")
	}

	// The console's sign-in: the password leads to the enrolment, and no
	// session exists yet.
	c := &consoleBrowser{Browser: samltest.NewBrowser(t), t: t, base: h.URL, now: time.Now}
	_, page := c.get("/admin/login")
	status, page = c.submit(page, "/admin/login", url.Values{"email": {"owner@example.com"}, "password": {password}})
	samltest.WantStatus(t, "console password", status, http.StatusOK, page)
	samltest.MustContain(t, page, `action="/admin/mfa/setup"`)
	sessions := h.sessions(t, "owner@example.com")
	status, body = c.get("/admin")
	samltest.MustContain(t, body, "Sign in to the admin console")
	if n := h.sessions(t, "owner@example.com"); n != sessions {
		t.Fatalf("the console's password step created a session (%d, was %d)", n, sessions)
	}

	// A user without a console role is refused once the password is
	// checked, before any enrolment.
	_, page = c.get("/admin/login")
	status, body = c.submit(page, "/admin/login", url.Values{"email": {"agent@example.com"}, "password": {password}})
	samltest.WantStatus(t, "console sign-in without a console role", status, http.StatusForbidden, body)
	samltest.MustContain(t, body, "no access to the admin console")
}

// TestConsoleSignInWithCode: a console user with a factor signs in with
// password and code; the session records the factor; a revoked role
// loses access at the next request.
func TestConsoleSignInWithCode(t *testing.T) {
	clk := newClock()
	h := newTestIdP(t, idpOptions{Now: clk.Now})
	owner := h.consoleUser(t, "owner@example.com", users.ConsoleOwner)
	h.consoleUser(t, "viewer@example.com", users.ConsoleViewer)
	first := h.consoleSignIn(t, "viewer@example.com", clk.Now)

	clk.Add(time.Minute) // the next TOTP step
	b := &consoleBrowser{Browser: samltest.NewBrowser(t), t: t, base: h.URL, now: clk.Now, secret: first.secret}
	_, page := b.get("/admin/login")
	status, page := b.submit(page, "/admin/login", url.Values{"email": {"viewer@example.com"}, "password": {password}})
	samltest.WantStatus(t, "password of an enrolled console user", status, http.StatusOK, page)
	samltest.MustContain(t, page, `action="/admin/login/mfa"`)
	status, page = b.submit(page, "/admin/login/mfa", url.Values{"code": {b.code()}})
	samltest.WantStatus(t, "code", status, http.StatusOK, page)
	samltest.MustContain(t, page, `id="home-welcome"`, "viewer@example.com (viewer)")

	ss, err := h.Store.ListSessions(context.Background(), h.user(t, "viewer@example.com").ID)
	if err != nil || len(ss) != 2 {
		t.Fatalf("sessions: %v, %v", ss, err)
	}
	for _, s := range ss {
		if s.SecondFactor != "totp" || !s.VerifiedAt.Equal(s.CreatedAt) {
			t.Errorf("console session records factor %q verified at %v (created %v); want totp at creation", s.SecondFactor, s.VerifiedAt, s.CreatedAt)
		}
	}

	if _, err := h.Accounts.Grant(context.Background(), admin, "viewer@example.com", users.ConsoleNone); err != nil {
		t.Fatal(err)
	}
	status, body := b.get("/admin")
	samltest.WantStatus(t, "console after the role is revoked", status, http.StatusForbidden, body)
	_ = owner
}

// TestConsoleSeparateListener: with IDP_ADMIN_LISTEN the console is
// served on its own listener only; /admin on the main listener is a 404,
// and the main listener's pages are not on the console's.
func TestConsoleSeparateListener(t *testing.T) {
	h := newTestIdP(t, idpOptions{ConsoleSeparate: true})
	h.consoleUser(t, "owner@example.com", users.ConsoleOwner)
	b := samltest.NewBrowser(t)
	for _, path := range []string{"/admin", "/admin/login", "/admin/users"} {
		status, body := b.Get(h.URL + path)
		samltest.WantStatus(t, "main listener "+path, status, http.StatusNotFound, body)
	}
	status, body := b.Get(h.ConsoleURL + "/login")
	samltest.WantStatus(t, "the public login on the console listener", status, http.StatusNotFound, body)
	h.consoleSignIn(t, "owner@example.com", nil)

	// Without IDP_ADMIN_LISTEN the console is on the main listener.
	shared := newTestIdP(t, idpOptions{})
	status, body = b.Get(shared.URL + "/admin/login")
	samltest.WantStatus(t, "console on the main listener", status, http.StatusOK, body)
	samltest.MustContain(t, body, "Sign in to the admin console")
}

// TestConsoleRefusesForgedPosts: a console form posted without its CSRF
// token, or from another origin (Origin, Referer, Sec-Fetch-Site), or
// with no sign of where it comes from, is refused and changes nothing.
func TestConsoleRefusesForgedPosts(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	h.consoleUser(t, "owner@example.com", users.ConsoleOwner)
	b := h.consoleSignIn(t, "owner@example.com", nil)
	_, page := b.get("/admin")
	csrf := samltest.HiddenFields(page)["csrf"]
	before := h.audit(t, store.AuditFilter{})

	cases := []struct {
		name    string
		form    url.Values
		headers map[string]string
	}{
		{"no CSRF token", url.Values{}, map[string]string{"Origin": b.base}},
		{"wrong CSRF token", url.Values{"csrf": {strings.Repeat("A", 43)}}, map[string]string{"Origin": b.base}},
		{"another origin", url.Values{"csrf": {csrf}}, map[string]string{"Origin": "https://evil.example"}},
		{"another site by fetch metadata", url.Values{"csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": b.base}},
		{"a sibling site by fetch metadata", url.Values{"csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "same-site"}},
		{"a foreign referer", url.Values{"csrf": {csrf}}, map[string]string{"Origin": "null", "Referer": "https://evil.example/admin"}},
		{"no origin at all", url.Values{"csrf": {csrf}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, b.base+"/admin/logout", strings.NewReader(c.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range c.headers {
				req.Header.Set(k, v)
			}
			status, body := b.Do(req)
			samltest.WantStatus(t, c.name, status, http.StatusForbidden, body)
		})
	}
	if n := h.sessions(t, "owner@example.com"); n != 1 {
		t.Fatalf("a refused sign-out ended the session: %d left", n)
	}
	if after := h.audit(t, store.AuditFilter{}); len(after) != len(before) {
		t.Fatalf("refused posts were recorded as changes: %v", after[:len(after)-len(before)])
	}
	// The same form from the console's page is accepted.
	status, body := b.post("/admin/logout", url.Values{"csrf": {csrf}})
	samltest.WantStatus(t, "sign-out from the console", status, http.StatusOK, body)
	if n := h.sessions(t, "owner@example.com"); n != 0 {
		t.Fatalf("sign-out left %d sessions", n)
	}
}
