package accounts_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/mfa"
	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// sessionIDs returns the IDs of u's sessions, sorted.
func (f *fixture) sessionIDs(t *testing.T, u users.User) []string {
	t.Helper()
	list, err := f.st.ListSessions(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range list {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	return ids
}

// TestChangePassword: a wrong current password is refused and counted by
// the sign-in throttle (so a locked account refuses even the right one);
// a weak new password gets the policy's sentence; a change keeps the
// session making it, ends the others, bumps the credential version and
// is audited.
func TestChangePassword(t *testing.T) {
	const next = "a brand new passphrase"
	tests := []struct {
		name          string
		current, next string
		locked        bool
		wantErr       func(error) bool
		wantSessions  []string
		wantFailures  int
	}{
		{name: "wrong current password", current: "not my password", next: next,
			wantErr:      func(err error) bool { return errors.Is(err, accounts.ErrWrongCurrentPassword) },
			wantSessions: []string{"here", "there"}, wantFailures: 1},
		{name: "weak new password", current: goodPassword, next: "short",
			wantErr: func(err error) bool {
				return code(err) == accounts.Invalid && strings.Contains(err.Error(), "at least")
			},
			wantSessions: []string{"here", "there"}},
		{name: "locked account", current: goodPassword, next: next, locked: true,
			wantErr:      func(err error) bool { var te *accounts.ThrottledError; return errors.As(err, &te) },
			wantSessions: []string{"here", "there"}, wantFailures: 10},
		{name: "change", current: goodPassword, next: next, wantSessions: []string{"here"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t)
			u := f.addUser(t, "kim@example.com")
			f.session(t, u, "here")
			f.session(t, u, "there")
			if tt.locked {
				f.lock(t, accounts.AccountKey(u.Email))
			}
			ended, err := f.svc.ChangePassword(ctx, u, tt.current, tt.next, "here", "192.0.2.7")
			if tt.wantErr != nil {
				if err == nil || !tt.wantErr(err) {
					t.Fatalf("err = %v", err)
				}
			} else if err != nil || ended != 1 {
				t.Fatalf("ChangePassword: %d ended, %v", ended, err)
			}
			if got := f.sessionIDs(t, u); !slices.Equal(got, tt.wantSessions) {
				t.Errorf("sessions %v, want %v", got, tt.wantSessions)
			}
			th, err := f.st.GetThrottle(ctx, accounts.AccountKey(u.Email))
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
			if th.Failures != tt.wantFailures {
				t.Errorf("account throttle counts %d failures, want %d", th.Failures, tt.wantFailures)
			}
			after := f.user(t, u.Email)
			changed := after.CredentialVersion != u.CredentialVersion
			if changed != (tt.wantErr == nil) {
				t.Errorf("credential version %d -> %d", u.CredentialVersion, after.CredentialVersion)
			}
			want := goodPassword
			if tt.wantErr == nil {
				want = tt.next
			}
			f.unlockAll(t, u)
			if _, err := f.svc.SignIn(ctx, accounts.SignInRequest{Email: u.Email, Password: want}); err != nil {
				t.Errorf("sign-in with %q: %v", want, err)
			}
			if n := len(f.audit(t, accounts.AuditPasswordChanged)); n != map[bool]int{true: 1}[tt.wantErr == nil] {
				t.Errorf("%d password.changed events", n)
			}
		})
	}
}

func (f *fixture) user(t *testing.T, email string) users.User {
	t.Helper()
	u, err := f.svc.FindUser(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (f *fixture) unlockAll(t *testing.T, u users.User) {
	t.Helper()
	if _, err := f.svc.Unlock(context.Background(), admin, u.Email, "192.0.2.7"); err != nil {
		t.Fatal(err)
	}
}

// TestSignOutOthers ends every session but the one asking.
func TestSignOutOthers(t *testing.T) {
	f := newFixture(t)
	u := f.addUser(t, "kim@example.com")
	other := f.addUser(t, "lee@example.com")
	for _, id := range []string{"a", "b", "c"} {
		f.session(t, u, id)
	}
	f.session(t, other, "d")
	n, err := f.svc.SignOutOthers(context.Background(), u, "b", "192.0.2.7")
	if err != nil || n != 2 {
		t.Fatalf("SignOutOthers: %d, %v", n, err)
	}
	if got := f.sessionIDs(t, u); !slices.Equal(got, []string{"b"}) {
		t.Errorf("sessions left %v", got)
	}
	if got := f.sessionIDs(t, other); !slices.Equal(got, []string{"d"}) {
		t.Errorf("another user's sessions %v", got)
	}
	if n := len(f.audit(t, accounts.AuditSignOutOthers)); n != 1 {
		t.Errorf("%d audit events", n)
	}
}

// TestNewRecoveryCodes: new codes need a valid code of the factor; they
// replace the old ones; a user without a factor is told to set one up.
func TestNewRecoveryCodes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.now = time.Now() // the store keeps used TOTP steps by its own clock
	u := f.addUser(t, "kim@example.com")
	if _, err := f.svc.NewRecoveryCodes(ctx, u, "", "123456", ""); !errors.Is(err, accounts.ErrNoTwoStep) {
		t.Fatalf("no factor: %v", err)
	}
	const secret = "JBSWY3DPEHPK3PXP"
	oldCodes, oldHashes, err := mfa.NewRecoveryCodes()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.PutMFA(ctx, store.MFA{UserID: u.ID, Secret: []byte(secret), ConfirmedAt: f.now, RecoveryCodes: oldHashes}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.NewRecoveryCodes(ctx, u, secret, "not-a-code", ""); !errors.Is(err, accounts.ErrWrongCode) {
		t.Fatalf("wrong code: %v", err)
	}
	codes, err := f.svc.NewRecoveryCodes(ctx, u, secret, totp(t, secret, f.now), "192.0.2.7")
	if err != nil || len(codes) != mfa.RecoveryCodeCount {
		t.Fatalf("NewRecoveryCodes: %v, %v", codes, err)
	}
	m, err := f.st.GetMFA(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range codes {
		if !slices.Contains(m.RecoveryCodes, mfa.HashRecoveryCode(c)) {
			t.Errorf("new code %s not stored", c)
		}
	}
	if _, err := f.svc.CheckCode(ctx, u, secret, oldCodes[0], m.RecoveryCodes, ""); !errors.Is(err, accounts.ErrWrongCode) {
		t.Errorf("an old recovery code still works: %v", err)
	}
	if n := len(f.audit(t, accounts.AuditRecoveryCodes)); n != 1 {
		t.Errorf("%d audit events", n)
	}
}

// TestReleases lists what each SP the user may enter receives, and skips
// an SP that requires an assignment the user lacks.
func TestReleases(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.addUser(t, "kim@example.com")
	for _, p := range []sp.ServiceProvider{
		{Name: "open", EntityID: "https://open.example.com", ACSURLs: []string{"https://open.example.com/acs"}},
		{Name: "closed", EntityID: "https://closed.example.com", ACSURLs: []string{"https://closed.example.com/acs"}, AssignmentRequired: true},
	} {
		if _, err := f.svc.CreateSP(ctx, admin, p); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := f.svc.Releases(ctx, u)
	if err != nil || len(rs) != 1 || rs[0].SP.Name != "open" {
		t.Fatalf("Releases: %+v, %v", rs, err)
	}
	pv, err := f.svc.PreviewRelease(ctx, u.Email, "open")
	if err != nil || rs[0].Released.NameID != pv.Released.NameID || len(rs[0].Released.Attributes) != len(pv.Released.Attributes) ||
		len(pv.Released.Attributes) == 0 {
		t.Fatalf("release %+v, preview %+v, %v", rs[0].Released, pv.Released, err)
	}
	if err := f.svc.Assign(ctx, admin, u.Email, "closed", true); err != nil {
		t.Fatal(err)
	}
	if rs, err := f.svc.Releases(ctx, u); err != nil || len(rs) != 2 {
		t.Fatalf("after assignment: %d releases, %v", len(rs), err)
	}
}
