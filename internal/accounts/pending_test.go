package accounts_test

import (
	"context"
	"errors"
	"testing"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/store"
)

// TestPendingUser: a sign-in whose password was checked may finish only
// while its user exists, is enabled and has the credentials it had then
// (a password set in between ends it).
func TestPendingUser(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.addUser(t, "agent@example.com")
	if got, err := f.svc.PendingUser(ctx, u.ID, u.CredentialVersion); err != nil || got.ID != u.ID {
		t.Fatalf("PendingUser = %v, %v; want the user", got.ID, err)
	}
	if _, err := f.svc.PendingUser(ctx, "no-such-user", 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown user: %v, want store.ErrNotFound", err)
	}
	if _, err := f.svc.SetPassword(ctx, admin, u.Email, "another long passphrase here"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.PendingUser(ctx, u.ID, u.CredentialVersion); !errors.Is(err, accounts.ErrCredentialsChanged) {
		t.Errorf("after a password change: %v, want ErrCredentialsChanged", err)
	}
	if _, err := f.svc.Disable(ctx, admin, u.Email); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.PendingUser(ctx, u.ID, u.CredentialVersion+1); !errors.Is(err, accounts.ErrDisabled) {
		t.Errorf("disabled: %v, want ErrDisabled", err)
	}
}
