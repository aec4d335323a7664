package accounts_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/passkeytest"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/sqlite/sqlitetest"
	"github.com/flexidp/flexidp/internal/users"
)

// passkeyFixture is a service that requires passkeys of "admin", on a
// clock that is the store's (used challenges are remembered by the
// store's clock).
func passkeyFixture(t *testing.T) *fixture {
	t.Helper()
	st := sqlitetest.New(t)
	f := &fixture{st: st, now: time.Now().UTC(), mail: &mailbox{}}
	f.svc = accounts.New(accounts.Config{Store: st, Now: func() time.Time { return f.now }, BaseURL: fixtureBase,
		Hasher:               users.NewHasher(users.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 2),
		PasskeyRequiredRoles: []string{"admin"}, MFARequiredRoles: []string{"supervisor"}})
	return f
}

func (f *fixture) userWith(t *testing.T, email string, roles ...string) users.User {
	t.Helper()
	u, err := f.svc.CreateUser(context.Background(), admin, accounts.NewUser{
		User: users.User{Email: email, FullName: "Test User", Roles: roles}, Password: goodPassword})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// addPasskey registers a new software passkey for u and returns it.
func (f *fixture) addPasskey(t *testing.T, u users.User, name string) *passkeytest.Authenticator {
	t.Helper()
	ctx := context.Background()
	c, err := f.svc.BeginPasskeyRegistration(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	a := passkeytest.New(fixtureBase.String())
	resp, err := a.Create(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AddPasskey(ctx, u, c.Session, resp, name, "192.0.2.9"); err != nil {
		t.Fatalf("AddPasskey: %v", err)
	}
	return a
}

// signInWith runs the passkey step of u's sign-in with a, whose answer
// answer may change (nil: a's honest answer).
func (f *fixture) signInWith(t *testing.T, u users.User, a *passkeytest.Authenticator, answer func(accounts.Ceremony) []byte) error {
	t.Helper()
	ctx := context.Background()
	c, err := f.svc.BeginPasskeySignIn(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	var resp []byte
	if answer != nil {
		resp = answer(c)
	} else if resp, err = a.Get(c.Options); err != nil {
		t.Fatal(err)
	}
	return f.svc.CheckPasskey(ctx, u, c.Session, resp, "192.0.2.9")
}

// TestPasskeySignIn: a registered passkey signs in, its counter and last
// use are stored; an answer replayed, one over another challenge, one
// from another origin, and one whose counter went back (a clone) are
// refused, each counted as a failed second factor and audited.
func TestPasskeySignIn(t *testing.T) {
	ctx := context.Background()
	f := passkeyFixture(t)
	u := f.userWith(t, "lee@example.com", "agent")
	a := f.addPasskey(t, u, "  Work laptop ")
	list, err := f.svc.Passkeys(ctx, u)
	if err != nil || len(list) != 1 || list[0].Name != "Work laptop" || list[0].ID != a.ID() || !list[0].LastUsedAt.IsZero() {
		t.Fatalf("passkeys after registration: %+v, %v", list, err)
	}
	if n := len(f.audit(t, accounts.AuditPasskeyAdded)); n != 1 {
		t.Errorf("%d passkey.added events, want 1", n)
	}
	if step, err := f.svc.SecondStepFor(ctx, u); err != nil || step != accounts.EnterCode {
		t.Fatalf("second step of a user with a passkey: %v, %v", step, err)
	}

	var replay accounts.Ceremony
	var replayed []byte
	if err := f.signInWith(t, u, a, func(c accounts.Ceremony) []byte {
		replay = c
		replayed, _ = a.Get(c.Options)
		return replayed
	}); err != nil {
		t.Fatalf("honest passkey sign-in: %v", err)
	}
	list, _ = f.svc.Passkeys(ctx, u)
	if list[0].SignCount != 1 || !list[0].LastUsedAt.Equal(f.now.Truncate(time.Microsecond)) {
		t.Errorf("after sign-in: counter %d, last used %v", list[0].SignCount, list[0].LastUsedAt)
	}

	other := passkeytest.New("https://phish.example.net")
	for _, tc := range []struct {
		name   string
		answer func(accounts.Ceremony) []byte
		before func()
	}{
		{name: "replayed", answer: func(accounts.Ceremony) []byte { return replayed }},
		{name: "another challenge", answer: func(accounts.Ceremony) []byte {
			resp, _ := a.Sign("c29tZSBvdGhlciBjaGFsbGVuZ2Ugb2YgMzIgYnl0ZXM")
			return resp
		}},
		{name: "another origin", answer: func(c accounts.Ceremony) []byte {
			*other = *a
			other.Origin = "https://phish.example.net"
			resp, _ := other.Get(c.Options)
			return resp
		}},
		{name: "not JSON", answer: func(accounts.Ceremony) []byte { return []byte("{") }},
		{name: "counter went back", before: func() { a.Counter = 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.now = f.now.Add(f.svc.Lockout().MaxDelay) // past the back-off of the last refusal
			if tc.before != nil {
				tc.before()
			}
			err := f.signInWith(t, u, a, tc.answer)
			if !errors.Is(err, accounts.ErrPasskeyRefused) || accounts.ErrorCode(err) != accounts.Invalid {
				t.Fatalf("got %v, want a refusal", err)
			}
		})
	}
	// The whole ceremony replayed, session and answer: its challenge is
	// used up.
	f.now = f.now.Add(f.svc.Lockout().MaxDelay)
	if err := f.svc.CheckPasskey(ctx, u, replay.Session, replayed, ""); !errors.Is(err, accounts.ErrPasskeyRefused) {
		t.Fatalf("ceremony replayed: %v", err)
	}
	if n := len(f.audit(t, accounts.AuditPasskeyCloned)); n != 1 {
		t.Errorf("%d clone warnings, want 1", n)
	}
	fails := f.audit(t, accounts.AuditMFAFailure)
	if len(fails) != 6 || !strings.Contains(fails[0].Reason, "passkey") {
		t.Errorf("failures: %d (%+v), want 6 about the passkey", len(fails), fails)
	}
	list, _ = f.svc.Passkeys(ctx, u)
	if list[0].SignCount != 1 {
		t.Errorf("a refused assertion moved the counter to %d", list[0].SignCount)
	}
}

// TestPasskeyRegistrationRefusals: an answer replayed, an unnamed
// passkey and a server without a host name are refused with a sentence.
func TestPasskeyRegistrationRefusals(t *testing.T) {
	ctx := context.Background()
	f := passkeyFixture(t)
	u := f.userWith(t, "lee@example.com", "agent")
	c, err := f.svc.BeginPasskeyRegistration(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := passkeytest.New(fixtureBase.String()).Create(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AddPasskey(ctx, u, c.Session, resp, " ", ""); accounts.ErrorCode(err) != accounts.Invalid {
		t.Errorf("unnamed: %v", err)
	}
	if _, err := f.svc.AddPasskey(ctx, u, c.Session, resp, "Key", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AddPasskey(ctx, u, c.Session, resp, "Key", ""); accounts.ErrorCode(err) != accounts.Invalid {
		t.Errorf("replayed registration: %v", err)
	}
	bad := passkeytest.New("https://phish.example.net")
	c, _ = f.svc.BeginPasskeyRegistration(ctx, u)
	resp, _ = bad.Create(c.Options)
	if _, err := f.svc.AddPasskey(ctx, u, c.Session, resp, "Phished", ""); accounts.ErrorCode(err) != accounts.Invalid {
		t.Errorf("registration from another origin: %v", err)
	}
	if list, _ := f.svc.Passkeys(ctx, u); len(list) != 1 {
		t.Errorf("%d passkeys, want 1", len(list))
	}
	ip := accounts.New(accounts.Config{Store: f.st, BaseURL: &url.URL{Scheme: "https", Host: "192.0.2.1"}})
	if _, err := ip.BeginPasskeyRegistration(ctx, u); accounts.ErrorCode(err) != accounts.Unavailable {
		t.Errorf("IP base URL: %v", err)
	}
}

// TestPasskeyPolicy: a role in PasskeyRequiredRoles must register a
// passkey at sign-in even with TOTP, and its codes (TOTP, recovery) are
// refused; a passkey satisfies a role that requires any second factor;
// others keep TOTP.
func TestPasskeyPolicy(t *testing.T) {
	ctx := context.Background()
	f := passkeyFixture(t)
	boss := f.userWith(t, "boss@example.com", "agent", "admin")
	sup := f.userWith(t, "sup@example.com", "supervisor")
	agent := f.userWith(t, "agent@example.com", "agent")
	for _, u := range []users.User{boss, agent} {
		if err := f.st.PutMFA(ctx, store.MFA{UserID: u.ID, Secret: []byte("JBSWY3DPEHPK3PXP"), ConfirmedAt: f.now,
			RecoveryCodes: []string{"x"}}); err != nil {
			t.Fatal(err)
		}
	}
	step := func(u users.User) accounts.SecondStep {
		t.Helper()
		s, err := f.svc.SecondStepFor(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name string
		u    users.User
		want accounts.SecondStep
	}{
		{"passkey role with TOTP only", boss, accounts.EnrolPasskey},
		{"MFA role with nothing", sup, accounts.Enrol},
		{"agent with TOTP", agent, accounts.EnterCode},
	} {
		if got := step(tc.u); got != tc.want {
			t.Errorf("%s: step %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, code := range []string{"123456", "ABCD-EFGH-IJKL"} {
		if _, err := f.svc.CheckCode(ctx, boss, "JBSWY3DPEHPK3PXP", code, []string{"x"}, ""); !errors.Is(err, accounts.ErrPasskeyRequired) {
			t.Errorf("code %q of a passkey role: %v, want ErrPasskeyRequired", code, err)
		}
	}
	if _, err := f.svc.CheckCode(ctx, agent, "JBSWY3DPEHPK3PXP", "000000", nil, ""); errors.Is(err, accounts.ErrPasskeyRequired) {
		t.Errorf("an agent's code is refused for want of a passkey")
	}
	f.addPasskey(t, boss, "Key")
	f.addPasskey(t, sup, "Key")
	for _, u := range []users.User{boss, sup} {
		if got := step(u); got != accounts.EnterCode {
			t.Errorf("%s with a passkey: step %v", u.Email, got)
		}
	}
	fb, _ := f.svc.FactorsFor(ctx, boss)
	fa, _ := f.svc.FactorsFor(ctx, agent)
	if fb.Code || !fb.PasskeyRequired || fb.Passkeys != 1 || !fa.Code || fa.PasskeyRequired {
		t.Errorf("factors: boss %+v, agent %+v", fb, fa)
	}
}

// TestRemovePasskey: removal needs the current password (a wrong one
// counts as a failed sign-in) or a passkey's answer (used once); the last passkey of a role that requires
// one stays; a removal is a new credential version, audited; another
// user's passkey is not found.
func TestRemovePasskey(t *testing.T) {
	ctx := context.Background()
	f := passkeyFixture(t)
	boss := f.userWith(t, "boss@example.com", "admin")
	other := f.userWith(t, "other@example.com", "agent")
	first := f.addPasskey(t, boss, "First")
	theirs := f.addPasskey(t, other, "Theirs")

	for _, tc := range []struct {
		name, id, password string
		want               error
	}{
		{"last one of a passkey role", first.ID(), goodPassword, accounts.ErrLastPasskey},
		{"another user's", theirs.ID(), goodPassword, nil},
		{"unknown", "nope", goodPassword, nil},
	} {
		_, err := f.svc.RemovePasskey(ctx, boss, tc.id, accounts.Proof{Password: tc.password}, "")
		if tc.want != nil && !errors.Is(err, tc.want) || tc.want == nil && accounts.ErrorCode(err) != accounts.NotFound {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	second := f.addPasskey(t, boss, "Second")
	if _, err := f.svc.RemovePasskey(ctx, boss, first.ID(), accounts.Proof{Password: "wrong wrong wrong"}, ""); !errors.Is(err, accounts.ErrWrongCurrentPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	if n := len(f.audit(t, accounts.AuditSignInFailure)); n != 1 {
		t.Errorf("%d sign-in failures for the wrong password, want 1", n)
	}
	before, _ := f.st.GetUser(ctx, boss.ID)
	p, err := f.svc.RemovePasskey(ctx, boss, first.ID(), accounts.Proof{Password: goodPassword}, "192.0.2.9")
	if err != nil || p.Name != "First" {
		t.Fatalf("remove: %+v, %v", p, err)
	}
	after, _ := f.st.GetUser(ctx, boss.ID)
	if after.CredentialVersion <= before.CredentialVersion {
		t.Errorf("credential version %d -> %d: not bumped", before.CredentialVersion, after.CredentialVersion)
	}
	if list, _ := f.svc.Passkeys(ctx, boss); len(list) != 1 || list[0].ID != second.ID() {
		t.Errorf("left: %+v", list)
	}
	if ev := f.audit(t, accounts.AuditPasskeyRemoved); len(ev) != 1 || ev[0].UserID != boss.ID {
		t.Errorf("passkey.removed events: %+v", ev)
	}

	// A passkey's answer proves it too, once.
	third := f.addPasskey(t, boss, "Third")
	c, err := f.svc.BeginPasskeySignIn(ctx, boss)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := third.Get(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	byPasskey := accounts.Proof{Session: c.Session, Answer: answer}
	if _, err := f.svc.RemovePasskey(ctx, boss, second.ID(), byPasskey, ""); err != nil {
		t.Fatalf("remove with a passkey's answer: %v", err)
	}
	f.addPasskey(t, boss, "Fourth")
	f.now = f.now.Add(f.svc.Lockout().MaxDelay)
	if _, err := f.svc.RemovePasskey(ctx, boss, third.ID(), byPasskey, ""); !errors.Is(err, accounts.ErrPasskeyRefused) {
		t.Fatalf("the same answer again: %v", err)
	}
	if _, err := f.svc.RemovePasskey(ctx, boss, third.ID(), accounts.Proof{Password: goodPassword}, ""); err != nil {
		t.Fatal(err)
	}
	list, _ := f.svc.Passkeys(ctx, boss)
	if len(list) != 1 || list[0].Name != "Fourth" {
		t.Fatalf("left: %+v", list)
	}
	if _, err := f.svc.RemovePasskey(ctx, boss, list[0].ID, accounts.Proof{Password: goodPassword}, ""); !errors.Is(err, accounts.ErrLastPasskey) {
		t.Errorf("now the last one: %v", err)
	}
}

// TestResetMFARemovesPasskeys: an administrator's reset removes every
// passkey (a user with passkeys and no TOTP is not refused), bumps the
// credential version and ends the sessions.
func TestResetMFARemovesPasskeys(t *testing.T) {
	ctx := context.Background()
	f := passkeyFixture(t)
	u := f.userWith(t, "lee@example.com", "admin")
	f.addPasskey(t, u, "One")
	f.addPasskey(t, u, "Two")
	f.session(t, u, "s1")
	before, _ := f.st.GetUser(ctx, u.ID)
	if n, err := f.svc.ResetMFA(ctx, admin, u.Email); err != nil || n != 1 {
		t.Fatalf("ResetMFA: %d, %v", n, err)
	}
	after, _ := f.st.GetUser(ctx, u.ID)
	if list, _ := f.svc.Passkeys(ctx, u); len(list) != 0 || after.CredentialVersion <= before.CredentialVersion {
		t.Errorf("after reset: %d passkeys, credential version %d -> %d", len(list), before.CredentialVersion, after.CredentialVersion)
	}
	if step, _ := f.svc.SecondStepFor(ctx, u); step != accounts.EnrolPasskey {
		t.Errorf("after reset: step %v, want EnrolPasskey", step)
	}
	if _, err := f.svc.ResetMFA(ctx, admin, u.Email); accounts.ErrorCode(err) != accounts.Conflict {
		t.Errorf("reset of nothing: %v", err)
	}
}

// TestPasskeyStatus: idp users show names a user's passkeys and their
// last use, and says when a role requires one.
func TestPasskeyStatus(t *testing.T) {
	ctx := context.Background()
	f := passkeyFixture(t)
	boss := f.userWith(t, "boss@example.com", "admin")
	agent := f.userWith(t, "agent@example.com", "agent")
	a := f.addPasskey(t, agent, "Laptop")
	if err := f.signInWith(t, agent, a, nil); err != nil {
		t.Fatal(err)
	}
	used := f.now
	f.now = f.now.Add(time.Minute) // listed oldest first
	f.addPasskey(t, agent, "Key")
	for _, tc := range []struct {
		u    users.User
		want string
	}{
		{boss, "none; a role requires one"},
		{agent, `"Laptop" (last used ` + used.Format(time.DateOnly) + `), "Key" (never used)`},
	} {
		if got := f.svc.PasskeyStatus(ctx, tc.u); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.u.Email, got, tc.want)
		}
	}
}

// TestPasskeyCeremonyKinds: a ceremony ends only as the kind it was begun
// as: an assertion over a registration's challenge does not sign in, and
// a new credential over a sign-in's challenge is not added.
func TestPasskeyCeremonyKinds(t *testing.T) {
	ctx := context.Background()
	f := passkeyFixture(t)
	u := f.userWith(t, "lee@example.com", "agent")
	a := f.addPasskey(t, u, "Laptop")

	reg, err := f.svc.BeginPasskeyRegistration(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	var opts struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(reg.Options, &opts); err != nil {
		t.Fatal(err)
	}
	assertion, err := a.Sign(opts.PublicKey.Challenge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.CheckPasskey(ctx, u, reg.Session, assertion, ""); !errors.Is(err, accounts.ErrPasskeyRefused) {
		t.Errorf("sign-in with a registration's session: %v, want a refusal", err)
	}

	f.now = f.now.Add(f.svc.Lockout().MaxDelay)
	get, err := f.svc.BeginPasskeySignIn(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(get.Options, &opts); err != nil {
		t.Fatal(err)
	}
	forged, _ := json.Marshal(map[string]any{"publicKey": map[string]any{"challenge": opts.PublicKey.Challenge,
		"rp": map[string]string{"id": fixtureBase.Hostname()}, "user": map[string]string{"id": base64.RawURLEncoding.EncodeToString([]byte(u.ID))}}})
	created, err := passkeytest.New(fixtureBase.String()).Create(forged)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AddPasskey(ctx, u, get.Session, created, "Mine", ""); accounts.ErrorCode(err) != accounts.Invalid {
		t.Errorf("registration with a sign-in's session: %v, want Invalid", err)
	}
	if list, _ := f.svc.Passkeys(ctx, u); len(list) != 1 {
		t.Errorf("%d passkeys, want 1", len(list))
	}
}

// TestPasskeyRequiredByGroup: a role a group gives counts as the user's
// own: a member of a group carrying admin must register a passkey, and
// their codes are refused.
func TestPasskeyRequiredByGroup(t *testing.T) {
	ctx := context.Background()
	f := passkeyFixture(t)
	u := f.userWith(t, "lee@example.com", "agent")
	if _, err := f.svc.CreateGroup(ctx, admin, users.Group{Name: "Admins", Roles: []string{"admin"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.AddMembers(ctx, admin, "Admins", u.Email); err != nil {
		t.Fatal(err)
	}
	if step, err := f.svc.SecondStepFor(ctx, u); err != nil || step != accounts.EnrolPasskey {
		t.Errorf("member of a passkey group: step %v, %v; want EnrolPasskey", step, err)
	}
	if _, err := f.svc.CheckCode(ctx, u, "JBSWY3DPEHPK3PXP", "123456", nil, ""); !errors.Is(err, accounts.ErrPasskeyRequired) {
		t.Errorf("code of a member of a passkey group: %v, want ErrPasskeyRequired", err)
	}
}
