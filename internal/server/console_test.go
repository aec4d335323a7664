package server_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
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
	samltest.MustContain(t, body, `href="/admin/login"`)
	if n := h.sessions(t, "owner@example.com"); n != 0 {
		t.Fatalf("sign-out left %d sessions", n)
	}
}

// csrf is the CSRF token of the browser's console pages.
func (b *consoleBrowser) csrf() string {
	b.t.Helper()
	_, page := b.get("/admin")
	token := samltest.HiddenFields(page)["csrf"]
	if token == "" {
		b.t.Fatalf("no CSRF token on the console's home:\n%s", page)
	}
	return token
}

// change posts form (with the CSRF token) to path from the console page
// on (same origin, with its Referer, as a browser sends it).
func (b *consoleBrowser) change(on, path string, form url.Values) (int, string) {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", b.csrf())
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.base)
	req.Header.Set("Referer", b.base+on)
	return b.Do(req)
}

// snapshot is what a refused console change must leave alone: the
// user's stored record and the audit trail's length.
func (h *testIdP) snapshot(t *testing.T, email string) string {
	t.Helper()
	u := h.user(t, email)
	return fmt.Sprintf("%+v|%d|%d", u, len(h.audit(t, store.AuditFilter{Action: "admin"})), h.sessions(t, email))
}

// TestConsolePermissionMatrix: a viewer reads and changes nothing; a manager
// manages users but is refused console roles (403, nothing changed); an
// owner may do everything. Every refusal is the 403 page.
func TestConsolePermissionMatrix(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	h.consoleUser(t, "owner@example.com", users.ConsoleOwner)
	h.consoleUser(t, "manager@example.com", users.ConsoleManager)
	h.consoleUser(t, "viewer@example.com", users.ConsoleViewer)
	agent := h.user(t, "agent@example.com")
	page := "/admin/users/" + agent.ID
	changes := []struct {
		path string
		form url.Values
	}{
		{page + "/profile", url.Values{"email": {"agent@example.com"}, "roles": {"supervisor"}}},
		{page + "/attributes", url.Values{"attr-name": {"channel.chat.capacity"}, "attr-value": {"5"}}},
		{page + "/disable", nil},
		{page + "/unlock", nil},
		{page + "/reset-mfa", nil},
		{page + "/sessions/revoke", nil},
		{page + "/link", nil},
		{page + "/delete", url.Values{"confirm": {"agent@example.com"}}},
		{page + "/console-role", url.Values{"console_role": {"owner"}}},
		{"/admin/users/bulk", url.Values{"id": {agent.ID}, "action": {"add-role"}, "bulk-role": {"supervisor"}}},
		{"/admin/users/bulk", url.Values{"id": {agent.ID}, "action": {"export"}}},
		{"/admin/users/new", url.Values{"email": {"new@example.com"}, "roles": {"agent"}, "password": {password}}},
	}

	viewer := h.consoleSignIn(t, "viewer@example.com", nil)
	for _, path := range []string{"/admin", "/admin/users", page} {
		status, body := viewer.get(path)
		samltest.WantStatus(t, "viewer reads "+path, status, http.StatusOK, body)
	}
	if _, body := viewer.get(page); strings.Contains(body, `id="profile-form"`) || strings.Contains(body, `id="delete-form"`) {
		t.Fatal("the viewer is shown forms that change the user")
	}
	status, body := viewer.get("/admin/users/new")
	samltest.WantStatus(t, "viewer opens Create a user", status, http.StatusForbidden, body)
	before := h.snapshot(t, "agent@example.com")
	for _, c := range changes {
		status, body := viewer.change(page, c.path, c.form)
		samltest.WantStatus(t, "viewer posts "+c.path, status, http.StatusForbidden, body)
		samltest.MustContain(t, body, "does not allow this. Nothing was changed.")
	}
	if after := h.snapshot(t, "agent@example.com"); after != before {
		t.Fatalf("a viewer changed the user:\n%s\n%s", before, after)
	}
	if _, err := h.Accounts.FindUser(context.Background(), "new@example.com"); err == nil {
		t.Fatal("a viewer created a user")
	}

	manager := h.consoleSignIn(t, "manager@example.com", nil)
	status, body = manager.change(page, page+"/console-role", url.Values{"console_role": {"owner"}})
	samltest.WantStatus(t, "manager grants a console role", status, http.StatusForbidden, body)
	if h.user(t, "agent@example.com").ConsoleRole != users.ConsoleNone || h.snapshot(t, "agent@example.com") != before {
		t.Fatal("a manager's refused grant changed the user")
	}
	status, body = manager.change(page, page+"/profile", url.Values{"email": {"agent@example.com"}, "roles": {"agent, supervisor"}, "team": {"Blue"}})
	samltest.WantStatus(t, "manager saves a profile", status, http.StatusOK, body)
	samltest.MustContain(t, body, "Saved.")
	if u := h.user(t, "agent@example.com"); strings.Join(u.Roles, ",") != "agent,supervisor" || u.Team != "Blue" {
		t.Fatalf("profile not saved: %+v", u)
	}
	if ev := h.audit(t, store.AuditFilter{Action: "admin.user.update", User: agent.ID}); len(ev) == 0 {
		t.Fatal("the change is not recorded")
	}
	if ev, _ := h.Store.ListAudit(context.Background(), store.AuditFilter{Action: "admin.user.update", User: agent.ID, Limit: 1}); ev[0].Actor != "manager@example.com" {
		t.Fatalf("recorded as the actor %q, want the console user", ev[0].Actor)
	}
	status, body = manager.change("/admin/users", "/admin/users/bulk", url.Values{"id": {agent.ID}, "action": {"export"}})
	samltest.WantStatus(t, "manager exports", status, http.StatusOK, body)
	samltest.MustContain(t, body, "agent@example.com")

	owner := h.consoleSignIn(t, "owner@example.com", nil)
	status, body = owner.change(page, page+"/console-role", url.Values{"console_role": {"viewer"}})
	samltest.WantStatus(t, "owner grants a console role", status, http.StatusOK, body)
	if h.user(t, "agent@example.com").ConsoleRole != users.ConsoleViewer {
		t.Fatal("the owner's grant was not saved")
	}
}

// TestConsoleReverify: a sensitive action (a console role, deleting a
// user) more than five minutes after the last proof sends the owner to
// re-verify (password or code), which returns to the page; nothing is
// done meanwhile.
func TestConsoleReverify(t *testing.T) {
	clk := newClock()
	h := newTestIdP(t, idpOptions{Now: clk.Now})
	h.consoleUser(t, "owner@example.com", users.ConsoleOwner)
	agent := h.user(t, "agent@example.com")
	page := "/admin/users/" + agent.ID
	b := h.consoleSignIn(t, "owner@example.com", clk.Now)

	clk.Add(accounts.ReverifyAfter - time.Second)
	status, body := b.change(page, page+"/console-role", url.Values{"console_role": {"viewer"}})
	samltest.WantStatus(t, "grant within five minutes", status, http.StatusOK, body)

	clk.Add(2 * time.Second)
	before := h.snapshot(t, "agent@example.com")
	for _, c := range []struct {
		path string
		form url.Values
	}{
		{page + "/console-role", url.Values{"console_role": {"manager"}}},
		{page + "/delete", url.Values{"confirm": {"agent@example.com"}}},
	} {
		status, body = b.change(page, c.path, c.form)
		samltest.WantStatus(t, "stale "+c.path, status, http.StatusOK, body)
		samltest.MustContain(t, body, "Confirm it is you", `name="next" value="`+page+`"`)
	}
	if h.snapshot(t, "agent@example.com") != before {
		t.Fatal("a stale sensitive action changed something")
	}
	// A wrong password does not verify.
	status, body = b.change(page, "/admin/verify", url.Values{"password": {"wrong"}, "next": {page}})
	samltest.WantStatus(t, "re-verify with a wrong password", status, http.StatusUnauthorized, body)
	// The password verifies and returns to the page; the action is done
	// when posted again.
	status, body = b.change(page, "/admin/verify", url.Values{"password": {password}, "next": {page}})
	samltest.WantStatus(t, "re-verify", status, http.StatusOK, body)
	samltest.MustContain(t, body, `id="profile-form"`, agent.Email)
	status, body = b.change(page, page+"/console-role", url.Values{"console_role": {"manager"}})
	samltest.WantStatus(t, "grant after re-verifying", status, http.StatusOK, body)
	if h.user(t, "agent@example.com").ConsoleRole != users.ConsoleManager {
		t.Fatal("the grant after re-verifying was not saved")
	}
	if ev := h.audit(t, store.AuditFilter{Action: accounts.AuditConsoleVerify}); len(ev) != 1 {
		t.Fatalf("re-verifications recorded: %v", ev)
	}

	// Later, a TOTP code verifies too; a next outside the console is
	// ignored (no open redirect).
	clk.Add(accounts.ReverifyAfter + time.Minute)
	status, body = b.change(page, "/admin/verify", url.Values{"code": {b.code()}, "next": {"https://evil.example/"}})
	samltest.WantStatus(t, "re-verify with a code", status, http.StatusOK, body)
	samltest.MustContain(t, body, `id="home-welcome"`)
	status, body = b.change(page, page+"/delete", url.Values{"confirm": {"agent@example.com"}})
	samltest.WantStatus(t, "delete after the code", status, http.StatusOK, body)
	samltest.MustContain(t, body, "The user is deleted.")
	if _, err := h.Accounts.FindUser(context.Background(), "agent@example.com"); accounts.ErrorCode(err) != accounts.NotFound {
		t.Fatal("the user was not deleted")
	}
}

// TestConsoleUserPage: an unknown user is a 404; a bad attribute or role
// is a 400 with the sentence next to the field, and changes nothing; a
// good one is saved and previewed as Flex receives it; a link is shown
// once.
func TestConsoleUserPage(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	h.consoleUser(t, "owner@example.com", users.ConsoleOwner)
	agent := h.user(t, "agent@example.com")
	page := "/admin/users/" + agent.ID
	b := h.consoleSignIn(t, "owner@example.com", nil)

	status, body := b.get("/admin/users/no-such-user")
	samltest.WantStatus(t, "unknown user", status, http.StatusNotFound, body)

	before := h.snapshot(t, "agent@example.com")
	status, body = b.change(page, page+"/attributes", url.Values{"attr-name": {"channel.chat.capacity"}, "attr-value": {"-1"}})
	samltest.WantStatus(t, "negative capacity", status, http.StatusBadRequest, body)
	samltest.MustContain(t, body, `id="attributes-error"`, "channel.chat.capacity", "negative", `value="-1" aria-label="Value of attribute 1" aria-invalid="true"`)
	status, body = b.change(page, page+"/profile", url.Values{"email": {agent.Email}, "roles": {"agnet"}})
	samltest.WantStatus(t, "role typo", status, http.StatusBadRequest, body)
	samltest.MustContain(t, body, `id="profile-error"`, "did you mean &#34;agent&#34;?", `value="agnet" aria-describedby="roles-hint" aria-invalid="true"`)
	if h.snapshot(t, "agent@example.com") != before {
		t.Fatal("a refused change changed the user")
	}

	status, body = b.change(page, page+"/attributes", url.Values{"attr-name": {"channel.chat.capacity", "skills.stringarray", ""}, "attr-value": {"3", "billing, vip", ""}})
	samltest.WantStatus(t, "attributes", status, http.StatusOK, body)
	samltest.MustContain(t, body, "The Flex attributes are saved.", `<th scope="row">channel.chat.capacity</th><td><span class="value">3</span>`)
	if u := h.user(t, "agent@example.com"); u.Attributes["channel.chat.capacity"].String() != "3" || u.Attributes["skills.stringarray"].String() != "billing,vip" {
		t.Fatalf("attributes: %v", u.Attributes)
	}

	status, body = b.change(page, page+"/link", nil)
	samltest.WantStatus(t, "reset link", status, http.StatusOK, body)
	samltest.MustContain(t, body, "This link is shown only now", h.URL+"/password?token=")
	token := body[strings.Index(body, "token=")+6:]
	token = token[:strings.IndexByte(token, '"')]
	if _, again := b.get(page); strings.Contains(again, token) {
		t.Fatal("the link is shown again on the user's page")
	}
}

// TestConsoleUsersPage: search, paging and bulk actions; a bad role in a
// bulk action is a 400 with its suggestion, and changes nobody.
func TestConsoleUsersPage(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	h.consoleUser(t, "owner@example.com", users.ConsoleOwner)
	for i := range 60 {
		h.addUser(t, users.User{Email: fmt.Sprintf("bulk%02d@example.com", i), Roles: []string{"agent"}, Team: "Pool"})
	}
	b := h.consoleSignIn(t, "owner@example.com", nil)
	status, body := b.get("/admin/users?team=Pool")
	samltest.WantStatus(t, "search by team", status, http.StatusOK, body)
	samltest.MustContain(t, body, "60 users match.", "bulk00@example.com", `id="next-page"`)
	if strings.Contains(body, "bulk59@example.com") {
		t.Fatal("the first page holds more than a page")
	}
	next := regexp.MustCompile(`href="(/admin/users\?[^"]+)" id="next-page"`).FindStringSubmatch(body)
	status, body = b.get(html.UnescapeString(next[1]))
	samltest.WantStatus(t, "next page", status, http.StatusOK, body)
	samltest.MustContain(t, body, "bulk59@example.com", `id="first-page"`)
	status, body = b.get("/admin/users?q=BULK07")
	samltest.MustContain(t, body, "1 user matches.", "bulk07@example.com")
	status, body = b.get("/admin/users?norole=1")
	samltest.MustContain(t, body, "norole@example.com")

	ids := url.Values{}
	for _, e := range []string{"bulk01@example.com", "bulk02@example.com"} {
		ids.Add("id", h.user(t, e).ID)
	}
	form := cloneForm(ids)
	form.Set("action", "add-role")
	form.Set("bulk-role", "supervisr")
	form.Set("search", "team=Pool")
	status, body = b.change("/admin/users?team=Pool", "/admin/users/bulk", form)
	samltest.WantStatus(t, "bulk with a typo", status, http.StatusBadRequest, body)
	samltest.MustContain(t, body, "did you mean &#34;supervisor&#34;?", `aria-invalid="true"`, "60 users match.")
	form.Set("bulk-role", "supervisor")
	status, body = b.change("/admin/users?team=Pool", "/admin/users/bulk", form)
	samltest.WantStatus(t, "bulk add role", status, http.StatusOK, body)
	samltest.MustContain(t, body, "The selected users are changed.", "60 users match.")
	for _, e := range []string{"bulk01@example.com", "bulk02@example.com", "bulk03@example.com"} {
		if got, want := strings.Join(h.user(t, e).Roles, ","), map[bool]string{true: "agent", false: "agent,supervisor"}[e == "bulk03@example.com"]; got != want {
			t.Errorf("%s: roles %s, want %s", e, got, want)
		}
	}
	form.Set("action", "set-team")
	form.Set("bulk-team", "Gold")
	if status, body = b.change("/admin/users", "/admin/users/bulk", form); status != http.StatusOK || h.user(t, "bulk01@example.com").Team != "Gold" {
		t.Fatalf("set team: %d\n%s", status, body)
	}
	form.Set("action", "disable")
	if status, body = b.change("/admin/users", "/admin/users/bulk", form); status != http.StatusOK || !h.user(t, "bulk02@example.com").Disabled {
		t.Fatalf("disable: %d\n%s", status, body)
	}
}

func cloneForm(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// TestConsoleSignInThrottled: the console's sign-in is throttled by the
// same rules as any sign-in (accounts.SignIn): once the account is locked,
// the right password is refused too, with a 429 and the wait.
func TestConsoleSignInThrottled(t *testing.T) {
	h := newTestIdP(t, idpOptions{Lockout: accounts.LockoutPolicy{BackoffAfter: 100, LockAfter: 3}})
	h.consoleUser(t, "owner@example.com", users.ConsoleOwner)
	b := &consoleBrowser{Browser: samltest.NewBrowser(t), t: t, base: h.URL, now: time.Now}
	for i := range 3 {
		_, page := b.get("/admin/login")
		status, body := b.submit(page, "/admin/login", url.Values{"email": {"owner@example.com"}, "password": {"wrong"}})
		samltest.WantStatus(t, fmt.Sprintf("wrong password %d", i+1), status, http.StatusUnauthorized, body)
	}
	_, page := b.get("/admin/login")
	status, body := b.submit(page, "/admin/login", url.Values{"email": {"owner@example.com"}, "password": {password}})
	samltest.WantStatus(t, "right password on a locked account", status, http.StatusTooManyRequests, body)
	samltest.MustContain(t, body, "Try again in")
	if ev := h.audit(t, store.AuditFilter{Action: accounts.AuditLockout}); len(ev) != 1 {
		t.Fatalf("lockouts recorded: %v", ev)
	}
}
