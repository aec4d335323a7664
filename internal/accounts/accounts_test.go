package accounts_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/keys"
	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/sqlite/sqlitetest"
	"github.com/flexidp/flexidp/internal/users"
)

// fixture is a service on a fresh embedded store in a temp dir, with a
// fixed clock, a recording mailer and a captured log.
type fixture struct {
	svc  *accounts.Service
	st   store.Store
	now  time.Time
	mail *mailbox
	log  *bytes.Buffer
}

type mailbox struct {
	mu   sync.Mutex
	sent []string // "to|subject|body"
	fail error
}

func (m *mailbox) Send(_ context.Context, to, subject, body string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.sent = append(m.sent, to+"|"+subject+"|"+body)
	return nil
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	st := sqlitetest.New(t)
	f := &fixture{st: st, now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), mail: &mailbox{}, log: &bytes.Buffer{}}
	f.svc = accounts.New(accounts.Config{Store: st, Now: func() time.Time { return f.now }, Mailer: f.mail, BaseURL: fixtureBase,
		Hasher: users.NewHasher(users.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 2),
		Log:    slog.New(slog.NewJSONHandler(f.log, nil))})
	return f
}

var admin = accounts.Actor{Name: "root-admin"}

// fixtureBase is the fixture service's external URL.
var fixtureBase = &url.URL{Scheme: "https", Host: "idp.example.com"}

const goodPassword = "correct horse battery staple"

func (f *fixture) addUser(t *testing.T, email string) users.User {
	t.Helper()
	u, err := f.svc.CreateUser(context.Background(), admin, accounts.NewUser{
		User: users.User{Email: email, FullName: "Test User", Roles: []string{"agent"}}, Password: goodPassword})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// session gives u a live session and returns its ID.
func (f *fixture) session(t *testing.T, u users.User, id string) {
	t.Helper()
	err := f.st.CreateSession(context.Background(), store.Session{ID: id, UserID: u.ID, Index: "_" + id, AuthnInstant: f.now,
		CreatedAt: f.now, LastSeenAt: f.now, ExpiresAt: f.now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) lock(t *testing.T, keys ...string) {
	t.Helper()
	for _, k := range keys {
		_, err := f.st.UpdateThrottle(context.Background(), k, func(th store.Throttle) (store.Throttle, error) {
			th.Failures, th.LastFailure, th.LockedUntil = 10, f.now, f.now.Add(time.Hour)
			return th, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) audit(t *testing.T, action string) []store.AuditEvent {
	t.Helper()
	evs, err := f.st.ListAudit(context.Background(), store.AuditFilter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func code(err error) accounts.Code { return accounts.ErrorCode(err) }

// TestSetPasswordAndLinkBehaveAlike is the rule that once lived in two
// places: an administrator's set-password and a user's password link both
// apply the policy, end every session, unlock the account and its second
// factor, and are recorded.
func TestSetPasswordAndLinkBehaveAlike(t *testing.T) {
	ctx := context.Background()
	for _, path := range []string{"set-password", "link"} {
		t.Run(path, func(t *testing.T) {
			f := newFixture(t)
			u := f.addUser(t, "ada@example.com")
			f.session(t, u, "s1")
			f.session(t, u, "s2")
			f.lock(t, accounts.AccountKey(u.Email), accounts.MFAKey(u.ID))
			const newPassword = "a brand new passphrase"
			set := func(pw string) (int, error) {
				if path == "set-password" {
					return f.svc.SetPassword(ctx, admin, "ADA@example.com", pw)
				}
				link, err := f.svc.IssueLink(ctx, admin, accounts.LinkRequest{Ref: u.Email, Purpose: store.TokenReset,
					BaseURL: &url.URL{Scheme: "https", Host: "idp.example.com"}})
				if err != nil {
					t.Fatal(err)
				}
				secret := strings.TrimPrefix(link.URL, "https://idp.example.com/password?token=")
				_, n, err := f.svc.UseLink(ctx, accounts.Actor{Address: "192.0.2.7"}, secret, pw)
				return n, err
			}
			// The policy refuses a weak password, and nothing changes.
			if _, err := set("short"); code(err) != accounts.Invalid {
				t.Fatalf("weak password: err = %v (code %q), want Invalid", err, code(err))
			}
			if list, _ := f.st.ListSessions(ctx, u.ID); len(list) != 2 {
				t.Fatalf("a refused password ended sessions: %d left", len(list))
			}
			n, err := set(newPassword)
			if err != nil {
				t.Fatal(err)
			}
			if n != 2 {
				t.Errorf("ended %d sessions, want 2", n)
			}
			if list, _ := f.st.ListSessions(ctx, u.ID); len(list) != 0 {
				t.Errorf("%d sessions survive a new password", len(list))
			}
			for _, k := range []string{accounts.AccountKey(u.Email), accounts.MFAKey(u.ID)} {
				if _, err := f.st.GetThrottle(ctx, k); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("throttle %s survives a new password (err %v)", k, err)
				}
			}
			got, _ := f.st.GetUser(ctx, u.ID)
			if got.CredentialVersion <= u.CredentialVersion {
				t.Errorf("credential version %d -> %d: a pending sign-in would survive the new password", u.CredentialVersion, got.CredentialVersion)
			}
			if ok, _, err := users.NewHasher(users.DefaultParams, 1).Verify(ctx, got.PasswordHash, newPassword); !ok || err != nil {
				t.Errorf("the new password does not verify (%v)", err)
			}
			evs := f.audit(t, accounts.AuditPasswordSet)
			if len(evs) != 1 || evs[0].UserID != u.ID {
				t.Fatalf("password.set events = %+v", evs)
			}
			wantActor := map[string]string{"set-password": "root-admin", "link": "ada@example.com"}[path]
			if evs[0].Actor != wantActor {
				t.Errorf("actor = %q, want %q", evs[0].Actor, wantActor)
			}
		})
	}
}

func TestLinkWorksOnceAndKeepsItAfterARefusedPassword(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.addUser(t, "bo@example.com")
	link, err := f.svc.IssueLink(ctx, admin, accounts.LinkRequest{Ref: u.ID, Purpose: store.TokenReset, Email: true,
		BaseURL: &url.URL{Scheme: "https", Host: "idp.example.com", Path: "/"}})
	if err != nil {
		t.Fatal(err)
	}
	if !link.Emailed || len(f.mail.sent) != 1 || !strings.Contains(f.mail.sent[0], link.URL) {
		t.Fatalf("emailed=%v sent=%q", link.Emailed, f.mail.sent)
	}
	secret := link.URL[strings.Index(link.URL, "token=")+len("token="):]
	if _, _, err := f.svc.UseLink(ctx, accounts.Actor{}, secret, "short"); code(err) != accounts.Invalid {
		t.Fatalf("weak password through a link: %v", err)
	}
	if _, _, err := f.svc.UseLink(ctx, accounts.Actor{}, secret, goodPassword+"!"); err != nil {
		t.Fatalf("the link was used up by a refused password: %v", err)
	}
	if _, _, err := f.svc.UseLink(ctx, accounts.Actor{}, secret, goodPassword+"?"); !errors.Is(err, accounts.ErrLinkUsed) {
		t.Fatalf("second use: %v, want ErrLinkUsed", err)
	}
	f.now = f.now.Add(2 * accounts.ResetTTL)
	if _, _, err := f.svc.LinkUser(ctx, "nonsense"); !errors.Is(err, accounts.ErrLinkUsed) {
		t.Fatalf("unknown secret: %v", err)
	}
}

// TestIssueLinkChecksFirst: a link that cannot be issued writes nothing.
func TestIssueLinkChecksFirst(t *testing.T) {
	ctx := context.Background()
	base := &url.URL{Scheme: "https", Host: "idp.example.com"}
	for _, tc := range []struct {
		name string
		req  accounts.LinkRequest
		want accounts.Code
	}{
		{"no base URL", accounts.LinkRequest{Ref: "new@example.com", Purpose: store.TokenInvite}, accounts.Invalid},
		{"relative base URL", accounts.LinkRequest{Ref: "new@example.com", Purpose: store.TokenInvite, BaseURL: &url.URL{Path: "x"}}, accounts.Invalid},
		{"too long", accounts.LinkRequest{Ref: "new@example.com", Purpose: store.TokenInvite, BaseURL: base, TTL: 31 * 24 * time.Hour}, accounts.Invalid},
		{"bad profile", accounts.LinkRequest{Ref: "not an email", Purpose: store.TokenInvite, BaseURL: base}, accounts.Invalid},
		{"reset of nobody", accounts.LinkRequest{Ref: "new@example.com", Purpose: store.TokenReset, BaseURL: base}, accounts.NotFound},
		{"bad purpose", accounts.LinkRequest{Ref: "new@example.com", Purpose: "login", BaseURL: base}, accounts.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			_, err := f.svc.IssueLink(ctx, admin, tc.req)
			if code(err) != tc.want {
				t.Fatalf("err = %v (code %q), want %q", err, code(err), tc.want)
			}
			if list, _ := f.st.ListUsers(ctx, store.UserFilter{}); len(list) != 0 {
				t.Errorf("a refused link created %d user(s)", len(list))
			}
			if evs := f.audit(t, ""); len(evs) != 0 {
				t.Errorf("a refused link was recorded: %+v", evs)
			}
		})
	}
}

func TestInvite(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	base := &url.URL{Scheme: "https", Host: "idp.example.com"}
	link, err := f.svc.IssueLink(ctx, admin, accounts.LinkRequest{Ref: " new@example.com ", Purpose: store.TokenInvite, BaseURL: base,
		Profile: users.User{FullName: "New Agent", Roles: []string{"agent"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !link.Created || link.User.Email != "new@example.com" || link.User.PasswordHash != "" || link.Emailed {
		t.Fatalf("link = %+v", link)
	}
	if want := f.now.Add(accounts.InviteTTL); !link.ExpiresAt.Equal(want) {
		t.Errorf("expires %v, want %v", link.ExpiresAt, want)
	}
	// Inviting again is a new link for the same user; once the user has a
	// password, an invitation is refused.
	again, err := f.svc.IssueLink(ctx, admin, accounts.LinkRequest{Ref: "NEW@example.com", Purpose: store.TokenInvite, BaseURL: base})
	if err != nil || again.Created || again.User.ID != link.User.ID {
		t.Fatalf("second invitation: %+v, %v", again, err)
	}
	if _, err := f.svc.SetPassword(ctx, admin, link.User.ID, goodPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.IssueLink(ctx, admin, accounts.LinkRequest{Ref: "new@example.com", Purpose: store.TokenInvite, BaseURL: base}); code(err) != accounts.Conflict {
		t.Fatalf("invitation of a user with a password: %v", err)
	}
	if n := len(f.audit(t, "admin.user.invite")); n != 2 {
		t.Errorf("%d invite events, want 2", n)
	}
}

func TestMailFailureStillReturnsTheLink(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "cy@example.com")
	f.mail.fail = errors.New("connection refused")
	link, err := f.svc.IssueLink(context.Background(), admin, accounts.LinkRequest{Ref: u.Email, Purpose: store.TokenReset, Email: true,
		BaseURL: &url.URL{Scheme: "https", Host: "idp.example.com"}})
	if code(err) != accounts.Unavailable || link.URL == "" || link.Emailed {
		t.Fatalf("link %+v, err %v", link, err)
	}
}

func TestCreateAndUpdateUser(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.addUser(t, "dee@example.com")
	if _, err := f.svc.CreateUser(ctx, admin, accounts.NewUser{User: users.User{Email: "DEE@example.com"}, NoPassword: true}); code(err) != accounts.Conflict {
		t.Fatalf("duplicate email: %v", err)
	}
	if _, err := f.svc.CreateUser(ctx, admin, accounts.NewUser{User: users.User{Email: "eve@example.com"}, Password: "x"}); code(err) != accounts.Invalid {
		t.Fatalf("weak password: %v", err)
	}
	if _, err := f.st.GetUserByEmail(ctx, "eve@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused user was stored: %v", err)
	}
	// An update cannot reach the password or the disabled flag.
	got, err := f.svc.UpdateUser(ctx, admin, u.Email, "user.update", func(x *users.User) error {
		x.Team, x.PasswordHash, x.Disabled = "Sales", "", true
		x.CredentialsChanged()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Team != "Sales" || got.PasswordHash == "" || got.Disabled || got.CredentialVersion != u.CredentialVersion {
		t.Fatalf("update result %+v", got)
	}
	if _, err := f.svc.UpdateUser(ctx, admin, u.Email, "user.update", func(x *users.User) error { x.Email = "bad"; return nil }); code(err) != accounts.Invalid {
		t.Fatalf("invalid email: %v", err)
	}
	evs := f.audit(t, "admin.user.update")
	if len(evs) != 1 || evs[0].Actor != "root-admin" || !strings.Contains(string(evs[0].Details), `"team":"Sales"`) ||
		strings.Contains(string(evs[0].Details), "$argon2id$") {
		t.Fatalf("update events %+v", evs)
	}
	if _, err := f.svc.FindUser(ctx, "nobody@example.com"); code(err) != accounts.NotFound {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestDisableEndsSessionsAndDeleteKeepsTheTrail(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.addUser(t, "fay@example.com")
	f.session(t, u, "s1")
	n, err := f.svc.Disable(ctx, admin, u.Email)
	if err != nil || n != 1 {
		t.Fatalf("disable: %d, %v", n, err)
	}
	if got, _ := f.st.GetUser(ctx, u.ID); !got.Disabled || got.CredentialVersion <= u.CredentialVersion {
		t.Fatalf("after disable: disabled %v, credential version %d -> %d", got.Disabled, u.CredentialVersion, got.CredentialVersion)
	}
	if err := f.svc.Enable(ctx, admin, u.Email); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Delete(ctx, admin, u.Email); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.GetUser(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("not deleted")
	}
	if evs := f.audit(t, "admin.user"); len(evs) != 4 { // add, disable, enable, delete
		t.Fatalf("%d user events, want 4", len(evs))
	}
}

func TestUnlockResetMFAAndSessions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.addUser(t, "gil@example.com")
	f.lock(t, accounts.AccountKey("GIL@example.com"), accounts.MFAKey(u.ID), accounts.AddressKey("192.0.2.1"),
		accounts.AccountKey("ghost@example.com"))
	got, err := f.svc.Unlock(ctx, admin, u.Email, "192.0.2.1")
	if err != nil || len(got) != 3 {
		t.Fatalf("unlock: %v, %v", got, err)
	}
	if got, err := f.svc.Unlock(ctx, admin, "ghost@example.com", ""); err != nil || len(got) != 1 {
		t.Fatalf("unlock of an unknown email: %v, %v", got, err)
	}

	if _, err := f.svc.ResetMFA(ctx, admin, u.Email); code(err) != accounts.Conflict {
		t.Fatalf("reset without a factor: %v", err)
	}
	if err := f.st.PutMFA(ctx, store.MFA{UserID: u.ID, Secret: []byte("x"), ConfirmedAt: f.now}); err != nil {
		t.Fatal(err)
	}
	f.session(t, u, "s1")
	if n, err := f.svc.ResetMFA(ctx, admin, u.Email); err != nil || n != 1 {
		t.Fatalf("reset-mfa: %d, %v", n, err)
	}
	if _, err := f.st.GetMFA(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("the factor survived")
	}
	if got, _ := f.st.GetUser(ctx, u.ID); got.CredentialVersion <= u.CredentialVersion {
		t.Errorf("reset-mfa kept credential version %d: a sign-in pending on the old factor would survive", got.CredentialVersion)
	}

	f.session(t, u, "s2")
	f.session(t, u, "s3")
	if _, err := f.svc.RevokeSession(ctx, admin, "s2"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RevokeSession(ctx, admin, "s2"); code(err) != accounts.NotFound {
		t.Fatalf("revoking a gone session: %v", err)
	}
	if _, n, err := f.svc.RevokeSessions(ctx, admin, u.Email); err != nil || n != 1 {
		t.Fatalf("revoke all: %d, %v", n, err)
	}
}

func TestServiceProviders(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.addUser(t, "hal@example.com")
	p := sp.ServiceProvider{Name: "flex", EntityID: "urn:flex:JQ0123456789abcdef0123456789abcdef",
		ACSURLs: []string{"https://login.flex.us1.twilio.com/login/callback?connection=JQ0123456789abcdef0123456789abcdef"}}
	if _, err := f.svc.CreateSP(ctx, admin, sp.ServiceProvider{Name: "x"}); code(err) != accounts.Invalid {
		t.Fatalf("invalid SP: %v", err)
	}
	if _, err := f.svc.CreateSP(ctx, admin, p); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateSP(ctx, admin, p); code(err) != accounts.Conflict {
		t.Fatalf("duplicate SP: %v", err)
	}
	after, err := f.svc.UpdateSP(ctx, admin, "flex", func(s *sp.ServiceProvider) error { s.AssignmentRequired = true; return nil })
	if err != nil || !after.AssignmentRequired {
		t.Fatalf("update: %+v, %v", after, err)
	}
	if _, err := f.svc.UpdateSP(ctx, admin, "flex", func(s *sp.ServiceProvider) error { s.ACSURLs = nil; return nil }); code(err) != accounts.Invalid {
		t.Fatalf("update to an invalid SP: %v", err)
	}
	if err := f.svc.Assign(ctx, admin, u.Email, "flex", true); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Assign(ctx, admin, u.Email, "flex", false); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Assign(ctx, admin, u.Email, "flex", false); code(err) != accounts.Conflict {
		t.Fatalf("unassign twice: %v", err)
	}
	if err := f.svc.RemoveSP(ctx, admin, "flex"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RemoveSP(ctx, admin, "flex"); code(err) != accounts.NotFound {
		t.Fatalf("remove twice: %v", err)
	}
	if n := len(f.audit(t, "admin.sp")); n != 5 {
		t.Errorf("%d sp events, want 5", n)
	}
}

func TestKeys(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	active, _, err := keys.Ensure(ctx, f.st, nil, "https://idp.example.com/saml/metadata", 2048, f.now)
	if err != nil {
		t.Fatal(err)
	}
	next, err := f.svc.AddKey(ctx, admin, nil, "https://idp.example.com/saml/metadata")
	if err != nil || next.State != store.KeyNext {
		t.Fatalf("add: %+v, %v", next, err)
	}
	list, err := f.svc.ListKeys(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("ListKeys = %d keys, %v", len(list), err)
	}
	states := map[string]store.KeyState{}
	for _, k := range list {
		states[k.ID] = k.State
	}
	if states[active.ID] != store.KeyActive || states[next.ID] != store.KeyNext {
		t.Fatalf("listed states %v", states)
	}
	if _, err := f.svc.SetKeyState(ctx, admin, active.ID, store.KeyRetired); code(err) != accounts.Conflict {
		t.Fatalf("retiring the active key: %v", err)
	}
	if changed, err := f.svc.SetKeyState(ctx, admin, next.ID, store.KeyActive); err != nil || !changed {
		t.Fatalf("activate: %v, %v", changed, err)
	}
	if changed, err := f.svc.SetKeyState(ctx, admin, next.ID, store.KeyActive); err != nil || changed {
		t.Fatalf("activate twice: %v, %v", changed, err)
	}
	if _, err := f.svc.SetKeyState(ctx, admin, "nope", store.KeyActive); code(err) != accounts.NotFound {
		t.Fatalf("unknown key: %v", err)
	}
	if n := len(f.audit(t, "admin.key")); n != 2 {
		t.Errorf("%d key events, want 2", n)
	}
}

func TestImport(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.addUser(t, "ivy@example.com")
	us := []users.User{{Email: "IVY@example.com", FullName: "Ivy", Roles: []string{"agent"}}, {Email: "jo@example.com", Roles: []string{"agent"}}}
	plan, err := f.svc.PlanImport(ctx, us)
	if err != nil || plan.Created != 1 || plan.Updated != 1 {
		t.Fatalf("plan %+v, %v", plan, err)
	}
	if list, _ := f.st.ListUsers(ctx, store.UserFilter{}); len(list) != 1 {
		t.Fatal("planning wrote")
	}
	got, err := f.svc.ApplyImport(ctx, admin, us, nil)
	if err != nil || got != plan {
		t.Fatalf("apply %+v (plan %+v), %v", got, plan, err)
	}
	again, err := f.svc.ApplyImport(ctx, admin, us, nil)
	if err != nil || again.Unchanged != 2 {
		t.Fatalf("re-import %+v, %v", again, err)
	}
	if n := len(f.audit(t, "admin.user.import")); n != 1 {
		t.Errorf("%d import events, want 1 (a no-change import records nothing)", n)
	}
	dup := []users.User{{Email: "a@example.com"}, {Email: "A@example.com"}}
	if _, err := f.svc.PlanImport(ctx, dup); code(err) != accounts.Invalid {
		t.Fatalf("duplicate emails: %v", err)
	}
}

func TestAuditGoesToStoreAndLog(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "kim@example.com")
	if !strings.Contains(f.log.String(), `"action":"admin.user.add"`) || !strings.Contains(f.log.String(), `"actor":"root-admin"`) {
		t.Fatalf("log: %s", f.log.String())
	}
	if strings.Contains(f.log.String(), "argon2id$") {
		t.Fatal("a hash reached the log")
	}
	evs := f.audit(t, "admin.user.add")
	if len(evs) != 1 || !evs[0].Time.Equal(f.now) {
		t.Fatalf("events %+v", evs)
	}
}

func TestReads(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if b, err := f.svc.BaseURL(ctx); err != nil || b != "" {
		t.Fatalf("base URL before any server: %q, %v", b, err)
	}
	if err := f.svc.RecordBaseURL(ctx, "https://idp.example.com"); err != nil {
		t.Fatal(err)
	}
	if b, err := f.svc.BaseURL(ctx); err != nil || b != "https://idp.example.com" {
		t.Fatalf("base URL: %q, %v", b, err)
	}
	f.addUser(t, "quinn@example.com")
	f.addUser(t, "rae@example.com")
	if list, err := f.svc.ListUsers(ctx, store.UserFilter{Query: "QUINN"}); err != nil || len(list) != 1 {
		t.Fatalf("list: %v, %v", list, err)
	}
	if evs, err := f.svc.SearchAudit(ctx, store.AuditFilter{Action: "admin.user.add"}); err != nil || len(evs) != 2 || evs[0].Email != "rae@example.com" {
		t.Fatalf("audit: %+v, %v", evs, err)
	}
}
