package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/mfa"
	"github.com/flexidp/flexidp/internal/passkeytest"
	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

var passkeyOptionsRE = regexp.MustCompile(`data-options="([^"]*)"`)

// passkeyOptions returns the ceremony options a page offers.
func passkeyOptions(t *testing.T, body string) []byte {
	t.Helper()
	m := passkeyOptionsRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no passkey ceremony in page:\n%s", body)
	}
	return []byte(html.UnescapeString(m[1]))
}

// postPasskey posts a passkey answer with the form fields of body.
func postPasskey(b *samltest.Browser, base, path, body string, answer []byte, extra url.Values) (int, string) {
	f := samltest.HiddenFields(body)
	v := url.Values{"csrf": {f["csrf"]}, "state": {f["state"]}, "credential": {string(answer)}}
	for k, x := range extra {
		v[k] = x
	}
	return b.Post(base+path, v)
}

// TestPasskeySecondStep: a passkey registered on the account page (after
// the current password) is offered at the next sign-in and completes it;
// its answer posted again, or an answer over another challenge, is
// refused with a sentence and starts no session.
func TestPasskeySecondStep(t *testing.T) {
	h := newTestIdP(t, idpOptions{Localhost: true})
	base := h.URL
	a := passkeytest.New(base)

	b, _ := passwordPage(t, base, "agent@example.com", password)
	_, acct := b.Get(base + "/account")
	f := samltest.HiddenFields(acct)
	status, body := b.Post(base+"/account/passkeys/new", url.Values{"csrf": {f["csrf"]}, "name": {"Laptop"}, "current": {"wrong wrong"}})
	samltest.WantStatus(t, "add a passkey, wrong password", status, http.StatusUnauthorized, body)
	status, body = b.Post(base+"/account/passkeys/new", url.Values{"csrf": {f["csrf"]}, "name": {"Laptop"}, "current": {password}})
	samltest.WantStatus(t, "add a passkey", status, http.StatusOK, body)
	created, err := a.Create(passkeyOptions(t, body))
	if err != nil {
		t.Fatal(err)
	}
	status, body = postPasskey(b, base, "/passkey/setup", body, created, url.Values{"name": {"Laptop"}})
	samltest.WantStatus(t, "register the passkey", status, http.StatusOK, body)
	samltest.MustContain(t, body, "Your passkey “Laptop” is added.", "<td>Laptop</td>")

	// The second step offers the passkey, and the code form only to a
	// user with TOTP.
	b2, page := passwordPage(t, base, "agent@example.com", password)
	samltest.MustContain(t, page, "Use a passkey", `src="/static/passkey.js"`)
	if regexp.MustCompile(`name="code"`).MatchString(page) {
		t.Error("the second step offers a code form to a user without TOTP")
	}
	answer, err := a.Get(passkeyOptions(t, page))
	if err != nil {
		t.Fatal(err)
	}
	status, body = postPasskey(b2, base, "/login/passkey", page, answer, nil)
	samltest.WantStatus(t, "sign-in with the passkey", status, http.StatusOK, body)
	samltest.MustContain(t, body, "Your applications")
	if got := h.audit(t, store.AuditFilter{Action: "signin.success", User: "agent@example.com", Limit: 1}); len(got) != 1 || !regexp.MustCompile(`password\+passkey`).MatchString(got[0]) {
		t.Errorf("sign-in audit: %v", got)
	}

	// On the account page, a removal needs the password or the passkey.
	_, acct = b2.Get(base + "/account")
	f = samltest.HiddenFields(acct)
	status, body = b2.Post(base+"/account/passkeys/remove", url.Values{"csrf": {f["csrf"]}, "passkey": {a.ID()}})
	samltest.WantStatus(t, "remove with neither password nor passkey", status, http.StatusBadRequest, body)
	samltest.MustContain(t, body, "Enter your current password, or confirm with one of your passkeys.", "<td>Laptop</td>")

	sessions := h.sessions(t, "agent@example.com")
	for _, tc := range []struct {
		name   string
		answer func(page string) []byte
		page   func() (*samltest.Browser, string)
	}{
		{"answer replayed", func(string) []byte { return answer }, func() (*samltest.Browser, string) { return b2, page }},
		{"another challenge", func(string) []byte {
			x, _ := a.Sign("c29tZSBvdGhlciBjaGFsbGVuZ2Ugb2YgMzIgYnl0ZXM")
			return x
		}, func() (*samltest.Browser, string) { return passwordPage(t, base, "agent@example.com", password) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bb, pg := tc.page()
			status, body := postPasskey(bb, base, "/login/passkey", pg, tc.answer(pg), nil)
			if status != http.StatusUnauthorized && status != http.StatusTooManyRequests {
				t.Fatalf("status %d, want a refusal:\n%s", status, body)
			}
			samltest.MustContain(t, body, `role="alert"`, "Use a passkey")
			if n := h.sessions(t, "agent@example.com"); n != sessions {
				t.Fatalf("%d sessions after a refused passkey, want %d", n, sessions)
			}
		})
	}

	// The passkey confirms its own removal; its answer does not work twice.
	_, acct = b2.Get(base + "/account")
	removal, err := a.Get(passkeyOptions(t, acct))
	if err != nil {
		t.Fatal(err)
	}
	status, body = postPasskey(b2, base, "/account/passkeys/remove", acct, removal, url.Values{"passkey": {a.ID()}})
	samltest.WantStatus(t, "remove, confirmed with the passkey", status, http.StatusOK, body)
	samltest.MustContain(t, body, "Your passkey “Laptop” is removed.", `id="passkeys-none"`)
	// Its state is bound to this session: another browser cannot use it.
	other, _ := passwordPage(t, base, "agent@example.com", password)
	_, otherAcct := other.Get(base + "/account")
	status, body = other.Post(base+"/account/passkeys/remove", url.Values{"csrf": {samltest.HiddenFields(otherAcct)["csrf"]},
		"state": {samltest.HiddenFields(acct)["state"]}, "credential": {string(removal)}, "passkey": {a.ID()}})
	samltest.WantStatus(t, "the removal's state in another browser", status, http.StatusBadRequest, body)
}

// TestPasskeyRequiredRole: a role that requires a passkey is asked to
// register one after the password, even with TOTP on; a TOTP code is
// refused with a sentence; the new passkey completes the sign-in.
func TestPasskeyRequiredRole(t *testing.T) {
	h := newTestIdP(t, idpOptions{Localhost: true, PasskeyRequiredRoles: []string{"admin"}})
	base := h.URL
	ctx := context.Background()
	root := h.addUser(t, users.User{Email: "root@example.com", Roles: []string{"admin"}})
	secret := "JBSWY3DPEHPK3PXP"
	if err := h.Store.PutMFA(ctx, store.MFA{UserID: root.ID, Secret: []byte(secret), ConfirmedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	b, page := passwordPage(t, base, "root@example.com", password)
	samltest.MustContain(t, page, "Your role requires a passkey", "Create the passkey")
	code, err := mfa.Code(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f := samltest.HiddenFields(page)
	status, body := b.Post(base+"/login/mfa", url.Values{"csrf": {f["csrf"]}, "state": {f["state"]}, "code": {code}})
	samltest.WantStatus(t, "TOTP code of a passkey role", status, http.StatusForbidden, body)
	samltest.MustContain(t, body, "Your role requires a passkey: codes from an authenticator app and recovery codes are not accepted",
		"Create the passkey") // the sign-in continues with the registration
	page = body
	if n := h.sessions(t, "root@example.com"); n != 0 {
		t.Fatalf("a TOTP code started %d session(s)", n)
	}

	a := passkeytest.New(base)
	created, err := a.Create(passkeyOptions(t, page))
	if err != nil {
		t.Fatal(err)
	}
	status, body = postPasskey(b, base, "/passkey/setup", page, created, url.Values{"name": {""}})
	samltest.WantStatus(t, "unnamed passkey", status, http.StatusUnauthorized, body)
	samltest.MustContain(t, body, "Give the passkey a name")
	created, _ = a.Create(passkeyOptions(t, body))
	status, body = postPasskey(b, base, "/passkey/setup", body, created, url.Values{"name": {"Security key"}})
	samltest.WantStatus(t, "passkey enrolment at sign-in", status, http.StatusOK, body)
	samltest.MustContain(t, body, "Your applications")
	if ss, err := h.Store.ListSessions(ctx, root.ID); err != nil || len(ss) != 1 || ss[0].SecondFactor != "passkey" {
		t.Fatalf("sessions after the enrolment: %+v, %v; want one, with the passkey as its factor", ss, err)
	}
}

// TestPasskeyCeremonyKinds: the sign-in's passkey challenge cannot be
// used to register a passkey. Someone with only the password of a user
// who has a passkey reaches the second step; their own authenticator
// answers its challenge with a new credential, posted to the
// registration: refused, with no session and no passkey added.
func TestPasskeyCeremonyKinds(t *testing.T) {
	h := newTestIdP(t, idpOptions{Localhost: true})
	base, ctx := h.URL, context.Background()
	agent := h.user(t, "agent@example.com")
	c, err := h.Accounts.BeginPasskeyRegistration(ctx, agent)
	if err != nil {
		t.Fatal(err)
	}
	created, err := passkeytest.New(base).Create(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Accounts.AddPasskey(ctx, agent, c.Session, created, "Laptop", ""); err != nil {
		t.Fatal(err)
	}

	attacker, page := passwordPage(t, base, "agent@example.com", password)
	opts := passkeyOptions(t, page)
	// The sign-in's options, made into registration options for the
	// attacker's authenticator (same challenge and user handle).
	var get struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			RPID      string `json:"rpId"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(opts, &get); err != nil {
		t.Fatal(err)
	}
	forged, _ := json.Marshal(map[string]any{"publicKey": map[string]any{"challenge": get.PublicKey.Challenge,
		"rp": map[string]string{"id": get.PublicKey.RPID}, "user": map[string]string{"id": base64.RawURLEncoding.EncodeToString([]byte(agent.ID))}}})
	answer, err := passkeytest.New(base).Create(forged)
	if err != nil {
		t.Fatal(err)
	}
	status, body := postPasskey(attacker, base, "/passkey/setup", page, answer, url.Values{"name": {"Mine"}})
	if status < 400 || status >= 500 {
		t.Fatalf("registration over the sign-in's challenge: status %d, want a refusal:\n%s", status, body)
	}
	if n := h.sessions(t, "agent@example.com"); n != 0 {
		t.Fatalf("%d sessions after a forged registration", n)
	}
	if list, _ := h.Accounts.Passkeys(ctx, agent); len(list) != 1 {
		t.Fatalf("%d passkeys after a forged registration, want 1", len(list))
	}
}

// TestPasskeyConsoleSignIn: the admin console takes a passkey as its
// second factor (its own copies of the sign-in forms, under /admin), and
// the session records "passkey" as the factor it proved, as a Flex
// sign-in's does.
func TestPasskeyConsoleSignIn(t *testing.T) {
	h := newTestIdP(t, idpOptions{Localhost: true})
	ctx := context.Background()
	owner := h.consoleUser(t, "owner@example.com", users.ConsoleOwner)
	c, err := h.Accounts.BeginPasskeyRegistration(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	a := passkeytest.New(h.URL)
	created, err := a.Create(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Accounts.AddPasskey(ctx, owner, c.Session, created, "Key", ""); err != nil {
		t.Fatal(err)
	}

	b := &consoleBrowser{Browser: samltest.NewBrowser(t), t: t, base: h.URL, now: time.Now}
	_, page := b.get("/admin/login")
	status, page := b.submit(page, "/admin/login", url.Values{"email": {"owner@example.com"}, "password": {password}})
	samltest.WantStatus(t, "console password", status, http.StatusOK, page)
	samltest.MustContain(t, page, `action="/admin/login/passkey"`)
	answer, err := a.Get(passkeyOptions(t, page))
	if err != nil {
		t.Fatal(err)
	}
	status, page = b.submit(page, "/admin/login/passkey", url.Values{"credential": {string(answer)}})
	samltest.WantStatus(t, "console passkey", status, http.StatusOK, page)
	samltest.MustContain(t, page, `id="home-welcome"`)

	// A Flex sign-in with the passkey records it on its session too.
	fb, fpage := passwordPage(t, h.URL, "owner@example.com", password)
	if answer, err = a.Get(passkeyOptions(t, fpage)); err != nil {
		t.Fatal(err)
	}
	status, fpage = postPasskey(fb, h.URL, "/login/passkey", fpage, answer, nil)
	samltest.WantStatus(t, "Flex sign-in with the passkey", status, http.StatusOK, fpage)
	ss, err := h.Store.ListSessions(ctx, owner.ID)
	if err != nil || len(ss) != 2 {
		t.Fatalf("sessions: %v, %v", ss, err)
	}
	for _, s := range ss {
		if s.SecondFactor != "passkey" || s.VerifiedAt.IsZero() {
			t.Errorf("session records factor %q verified at %v; want passkey", s.SecondFactor, s.VerifiedAt)
		}
	}
}
