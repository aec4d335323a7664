package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/store"
)

// TestLockoutAcrossReplicas: failed sign-ins spread over two replicas of
// one database lock the account; the locked page is the same for an
// unknown account; idp users unlock ends the lock; the audit trail has it
// all and the CLI reads it back.
func TestLockoutAcrossReplicas(t *testing.T) {
	e := newTestEnv(t)
	setupFlex(t, e)
	flags := []string{"--lockout-backoff-after", "2", "--lockout-threshold", "4", "--lockout-delay", "1ms", "--lockout-max-delay", "2ms"}
	replicas := []string{e.startServe(flags...), e.startServe(flags...)}
	b := samltest.NewBrowser(t)
	try := func(i int, email, pw string) (int, string) {
		t.Helper()
		base := replicas[i%2]
		_, page := b.Get(base + "/login")
		time.Sleep(5 * time.Millisecond) // outlast the 1-2 ms back-off; not a timing assertion
		return b.Login(base, page, email, pw)
	}
	for i := range 4 {
		status, body := try(i, "agent@example.com", "wrong password")
		samltest.WantStatus(t, "failure", status, http.StatusUnauthorized, body)
	}
	// Locked now, on both replicas, even with the right password.
	for i := range 2 {
		status, body := try(i, "agent@example.com", password)
		samltest.WantStatus(t, "locked account", status, http.StatusTooManyRequests, body)
		samltest.MustContain(t, body, "Too many failed sign-ins")
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
	samltest.MustContain(t, out, "unlocked acct:agent@example.com")
	status, body := try(1, "agent@example.com", password)
	samltest.WantStatus(t, "sign-in after unlock", status, http.StatusOK, body)
	samltest.MustContain(t, body, "Signed in as")

	st := openTestStore(t, e)
	got := strings.Join(samltest.AuditTrail(t, st, store.AuditFilter{User: "agent@example.com"}), " ")
	for _, want := range []string{"signin.failure:wrong password", "lockout:too many failed sign-ins", "signin.failure:throttled",
		"admin.user.unlock:acct:agent@example.com", "signin.success:password"} {
		if !strings.Contains(got, want) {
			t.Errorf("audit trail lacks %q: %s", want, got)
		}
	}
	if got := samltest.AuditTrail(t, st, store.AuditFilter{User: "nobody@example.com", Action: "signin.failure", Limit: 1}); len(got) != 1 || got[0] != "signin.failure:throttled" {
		t.Errorf("unknown account's failures not audited: %v", got)
	}
	out = e.cli("", "audit", "search", "--user", "agent@example.com", "--action", "admin", "--since", "1h")
	samltest.MustContain(t, out, "admin.user.unlock", "alice")
	out = e.cli("", "audit", "tail", "-n", "3", "--json")
	if n := strings.Count(out, "\n"); n < 3 {
		t.Errorf("audit tail -n 3 printed %d lines:\n%s", n, out)
	}
	// Admin changes carry before and after, never the hash.
	out = e.cli("", "audit", "search", "--user", "gone@example.com", "--action", "admin.user.disable")
	samltest.MustContain(t, out, `"before":`, `"disabled":false`, `"disabled":true`)
	if strings.Contains(out, "$argon2id$") {
		t.Fatal("the audit log shows a password hash")
	}
}

var passwordLinkRE = regexp.MustCompile(`http://[^\s]+/password\?token=[A-Za-z0-9_-]+`)

// TestPasswordLinkCommands: invite and reset-link print links to the
// running server that open its password page; the secret is stored
// hashed; an invitation of a user who has a password is refused. (The
// page itself, single use, the policy and the end of sessions are tested
// in internal/server, TestPasswordLinks.)
func TestPasswordLinkCommands(t *testing.T) {
	e := newTestEnv(t)
	setupFlex(t, e)
	base := e.startServe()
	e.getenv["IDP_BASE_URL"] = base
	out := e.cli("", "users", "invite", "--email", "new@example.com", "--name", "New Agent", "--roles", "agent")
	link := passwordLinkRE.FindString(out)
	if link == "" {
		t.Fatalf("no link in:\n%s", out)
	}
	status, body := samltest.NewBrowser(t).Get(link)
	samltest.WantStatus(t, "invite page", status, http.StatusOK, body)
	samltest.MustContain(t, body, "Welcome", "new@example.com")
	e.cliWant(1, "", "users", "invite", "--email", "agent@example.com")

	out = e.cli("", "users", "reset-link", "--email", "agent@example.com", "--expires", "1h")
	link = passwordLinkRE.FindString(out)
	status, body = samltest.NewBrowser(t).Get(link)
	samltest.WantStatus(t, "reset page", status, http.StatusOK, body)
	samltest.MustContain(t, body, "agent@example.com")
	st := openTestStore(t, e)
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
	b1, b2 := samltest.NewBrowser(t), samltest.NewBrowser(t)
	for _, b := range []*samltest.Browser{b1, b2} {
		_, page := b.Get(base + "/login")
		status, body := b.Login(base, page, "agent@example.com", password)
		samltest.WantStatus(t, "sign-in", status, http.StatusOK, body)
	}
	out := e.cli("", "sessions", "list", "--email", "agent@example.com")
	ids := regexp.MustCompile(`(?m)^([0-9a-f]{64})\s`).FindAllStringSubmatch(out, -1)
	if len(ids) != 2 || !strings.Contains(out, "active") {
		t.Fatalf("sessions list (want two active sessions):\n%s", out)
	}
	e.cli("", "sessions", "revoke", "--id", ids[0][1])
	samltest.MustContain(t, e.cli("", "sessions", "revoke", "--email", "agent@example.com"), "ended 1 session")
	for _, b := range []*samltest.Browser{b1, b2} {
		_, body := b.Get(base + "/launcher")
		samltest.MustContain(t, body, `name="password"`)
	}
	e.cliWant(2, "", "sessions", "revoke")
}

// TestResetMFACommand: users reset-mfa says what it removed, and that the
// user has no second factor when there is none. (Its effect on sign-in is
// tested in internal/server, TestMFAEndToEnd and
// TestCredentialChangeEndsPendingSignIn.)
func TestResetMFACommand(t *testing.T) {
	e, st := sqliteEnv(t)
	e.cli(password+"\n", "users", "add", "--email", "root@example.com", "--roles", "admin")
	root, err := st.GetUserByEmail(t.Context(), "root@example.com")
	if err != nil {
		t.Fatal(err)
	}
	// The second factor as an enrolment over the web stores it.
	if err := st.PutMFA(t.Context(), store.MFA{UserID: root.ID, Secret: []byte("JBSWY3DPEHPK3PXP"), ConfirmedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	samltest.MustContain(t, e.cli("", "users", "reset-mfa", "--email", "root@example.com"), "removed the two-step verification of root@example.com")
	samltest.MustContain(t, e.cliWant(1, "", "users", "reset-mfa", "--email", "root@example.com"), "has no two-step verification")
}
