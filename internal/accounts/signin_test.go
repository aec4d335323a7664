package accounts_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/mfa"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/sqlite/sqlitetest"
	"github.com/flexidp/flexidp/internal/users"
)

func signIn(f *fixture, email, pw string) (users.User, error) {
	in, err := f.svc.SignIn(context.Background(), accounts.SignInRequest{Email: email, Password: pw, Address: "192.0.2.9", SP: "flex"})
	return in.User, err
}

// TestSignInRules: one answer for unknown, wrong and no password, each
// recorded with its reason; the lock refuses even the right password;
// a disabled account is told apart only after the right password.
func TestSignInRules(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.addUser(t, "lee@example.com")
	if _, err := f.svc.CreateUser(ctx, admin, accounts.NewUser{User: users.User{Email: "nopw@example.com"}, NoPassword: true}); err != nil {
		t.Fatal(err)
	}
	got, err := signIn(f, "LEE@example.com", goodPassword)
	if err != nil || got.ID != u.ID {
		t.Fatalf("right password: %+v, %v", got, err)
	}
	for _, tc := range []struct{ email, pw, reason string }{
		{"lee@example.com", "wrong wrong wrong", "wrong password"},
		{"nobody@example.com", goodPassword, "unknown account"},
		{"nopw@example.com", goodPassword, "no password set"},
	} {
		if _, err := signIn(f, tc.email, tc.pw); !errors.Is(err, accounts.ErrBadCredentials) {
			t.Errorf("%s: %v, want ErrBadCredentials", tc.reason, err)
		}
	}
	var reasons []string
	for _, e := range f.audit(t, accounts.AuditSignInFailure) {
		reasons = append(reasons, e.Reason)
		if e.RemoteAddr != "192.0.2.9" || e.SP != "flex" {
			t.Errorf("failure event %+v lacks the address or SP", e)
		}
	}
	if strings.Join(reasons, ",") != "no password set,unknown account,wrong password" {
		t.Errorf("failure reasons (newest first) = %v", reasons)
	}

	// Ten failures lock the account; the right password is refused too.
	lock := f.svc.Lockout()
	for range lock.LockAfter {
		_, _ = signIn(f, u.Email, "wrong wrong wrong")
		f.now = f.now.Add(lock.MaxDelay) // past each back-off
	}
	var th *accounts.ThrottledError
	if _, err := signIn(f, u.Email, goodPassword); !errors.As(err, &th) || th.Crowded || th.Wait <= 0 {
		t.Fatalf("locked account, right password: %v", err)
	}
	if n := len(f.audit(t, accounts.AuditLockout)); n != 1 {
		t.Errorf("%d lockout events, want 1", n)
	}
	f.now = f.now.Add(lock.LockFor)
	if _, err := signIn(f, u.Email, goodPassword); err != nil {
		t.Fatalf("after the lock: %v", err)
	}

	if _, err := f.svc.Disable(ctx, admin, u.Email); err != nil {
		t.Fatal(err)
	}
	if _, err := signIn(f, u.Email, goodPassword); !errors.Is(err, accounts.ErrDisabled) {
		t.Fatalf("disabled: %v", err)
	}
	if _, err := signIn(f, u.Email, "wrong wrong wrong"); !errors.Is(err, accounts.ErrBadCredentials) {
		t.Fatalf("disabled, wrong password: %v (must not tell the account is disabled)", err)
	}
}

// TestSignInCrowded: more attempts of one account in flight at once than
// the lock threshold are refused as crowded, not as failures.
func TestSignInCrowded(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.addUser(t, "mo@example.com")
	var attempts []*accounts.Attempt
	for range f.svc.Lockout().LockAfter {
		a, err := f.svc.Admit(ctx, f.svc.AccountRule(u.Email))
		if err != nil {
			t.Fatal(err)
		}
		attempts = append(attempts, a)
	}
	var th *accounts.ThrottledError
	if _, err := signIn(f, u.Email, goodPassword); !errors.As(err, &th) || !th.Crowded {
		t.Fatalf("crowded account: %v", err)
	}
	for _, a := range attempts {
		a.Succeeded(ctx)
	}
	if _, err := signIn(f, u.Email, goodPassword); err != nil {
		t.Fatalf("after the attempts in flight ended: %v", err)
	}
}

// TestSignInUpgradesImportedHash: a correct bcrypt password is re-hashed
// with argon2id, which is not a new credential.
func TestSignInUpgradesImportedHash(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	b, _ := bcrypt.GenerateFromPassword([]byte(goodPassword), bcrypt.MinCost)
	if _, err := f.svc.ApplyImport(ctx, admin, []users.User{{Email: "ned@example.com", PasswordHash: string(b), Roles: []string{"agent"}}}, nil); err != nil {
		t.Fatal(err)
	}
	before, _ := f.st.GetUserByEmail(ctx, "ned@example.com")
	if _, err := signIn(f, "ned@example.com", goodPassword); err != nil {
		t.Fatal(err)
	}
	after, _ := f.st.GetUserByEmail(ctx, "ned@example.com")
	if !strings.HasPrefix(after.PasswordHash, "$argon2id$") || after.CredentialVersion != before.CredentialVersion {
		t.Fatalf("after sign-in: hash %.10s, credential version %d -> %d", after.PasswordHash, before.CredentialVersion, after.CredentialVersion)
	}
}

func TestCheckCode(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.now = time.Now() // the store keeps used codes by its own clock
	u := f.addUser(t, "ola@example.com")
	const secret = "JBSWY3DPEHPK3PXP"
	if err := f.st.PutMFA(ctx, store.MFA{UserID: u.ID, Secret: []byte(secret), ConfirmedAt: f.now,
		RecoveryCodes: []string{"not-a-real-hash"}}); err != nil {
		t.Fatal(err)
	}
	code := totp(t, secret, f.now)
	if m, err := f.svc.CheckCode(ctx, u, secret, code, nil, "192.0.2.9"); err != nil || m != "totp" {
		t.Fatalf("right code: %q, %v", m, err)
	}
	if _, err := f.svc.CheckCode(ctx, u, secret, code, nil, "192.0.2.9"); !errors.Is(err, accounts.ErrReplayedCode) {
		t.Fatalf("the same code again: %v", err)
	}
	if _, err := f.svc.CheckCode(ctx, u, secret, "000000", nil, "192.0.2.9"); !errors.Is(err, accounts.ErrWrongCode) && !errors.Is(err, accounts.ErrReplayedCode) {
		t.Fatalf("wrong code: %v", err)
	}
	if _, err := f.svc.CheckCode(ctx, u, secret, "abcd-efgh", []string{"x"}, ""); !errors.Is(err, accounts.ErrWrongCode) {
		t.Fatalf("wrong recovery code: %v", err)
	}
	if n := len(f.audit(t, accounts.AuditMFAFailure)); n != 3 {
		t.Errorf("%d mfa.failure events, want 3", n)
	}
}

func totp(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := mfa.Code(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestConfirmTOTP: a wrong code stores nothing; the right one stores the
// factor with recovery codes, once: a second enrolment confirmed later is
// refused and does not replace it.
func TestConfirmTOTP(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.now = time.Now() // the store keeps used codes by its own clock
	u := f.addUser(t, "pia@example.com")
	const secret, other = "JBSWY3DPEHPK3PXP", "KRUGKIDROVUWG2ZA"
	if _, err := f.svc.ConfirmTOTP(ctx, u, secret, []byte("sealed-1"), "000000", ""); !errors.Is(err, accounts.ErrWrongCode) {
		t.Fatalf("wrong code: %v", err)
	}
	if _, err := f.st.GetMFA(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a wrong code stored a factor (%v)", err)
	}
	codes, err := f.svc.ConfirmTOTP(ctx, u, secret, []byte("sealed-1"), totp(t, secret, f.now), "")
	if err != nil || len(codes) != 10 {
		t.Fatalf("right code: %d codes, %v", len(codes), err)
	}
	f.now = f.now.Add(30 * time.Second) // a code of the next time step (one step is accepted once per user)
	if _, err := f.svc.ConfirmTOTP(ctx, u, other, []byte("sealed-2"), totp(t, other, f.now), ""); !errors.Is(err, accounts.ErrEnrolled) {
		t.Fatalf("second enrolment: %v", err)
	}
	m, err := f.st.GetMFA(ctx, u.ID)
	if err != nil || string(m.Secret) != "sealed-1" || len(m.RecoveryCodes) != 10 || m.ConfirmedAt.IsZero() {
		t.Fatalf("stored factor %+v, %v", m, err)
	}
	if n := len(f.audit(t, accounts.AuditMFAEnrolled)); n != 1 {
		t.Errorf("%d mfa.enrolled events, want 1", n)
	}
}

// TestSecondStepFor: a confirmed factor asks for a code; a role in
// MFARequiredRoles without one asks for enrolment; a pending (unconfirmed)
// factor counts as none.
func TestSecondStepFor(t *testing.T) {
	ctx := context.Background()
	st := sqlitetest.New(t)
	svc := accounts.New(accounts.Config{Store: st, MFARequiredRoles: []string{"admin"},
		Hasher: users.NewHasher(users.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 1)})
	mk := func(email string, roles ...string) users.User {
		u, err := svc.CreateUser(ctx, admin, accounts.NewUser{User: users.User{Email: email, Roles: roles}, NoPassword: true})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	agent, boss, pending := mk("a@example.com", "agent"), mk("b@example.com", "admin"), mk("c@example.com", "admin")
	if err := st.PutMFA(ctx, store.MFA{UserID: agent.ID, Secret: []byte("s"), ConfirmedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutMFA(ctx, store.MFA{UserID: pending.ID, Secret: []byte("s")}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		u    users.User
		want accounts.SecondStep
	}{{agent, accounts.EnterCode}, {boss, accounts.Enrol}, {pending, accounts.Enrol}, {mk("d@example.com", "agent"), accounts.NoSecondStep}} {
		if got, err := svc.SecondStepFor(ctx, tc.u); err != nil || got != tc.want {
			t.Errorf("%s: step %v, %v; want %v", tc.u.Email, got, err, tc.want)
		}
	}
	if _, ok, err := svc.ConfirmedFactor(ctx, pending.ID); ok || err != nil {
		t.Errorf("a pending enrolment counts as a factor (%v, %v)", ok, err)
	}
}
