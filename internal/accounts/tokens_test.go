package accounts_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/store"
)

// TestAPITokenLifecycle: a token is shown once with the recognisable
// prefix, stored hashed, authenticates until it expires or is revoked,
// and every way of being wrong is the same ErrBadToken; creating and
// revoking are audited.
func TestAPITokenLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, bearer, err := f.svc.CreateToken(ctx, admin, accounts.NewToken{Name: "okta", Scopes: []accounts.Scope{accounts.ScopeSCIM}, TTL: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(bearer, "fidp_") || len(bearer) < 60 {
		t.Fatalf("bearer %q: want fidp_ and a 256-bit secret", bearer)
	}
	stored, err := f.st.GetAPIToken(ctx, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	if secret := bearer[len("fidp_")+len(tok.ID)+1:]; strings.Contains(stored.SecretHash, secret) || len(stored.SecretHash) != 64 {
		t.Fatalf("stored secret hash %q: want a hex SHA-256, not the secret", stored.SecretHash)
	}
	got, err := f.svc.AuthenticateToken(ctx, bearer, "192.0.2.1")
	if err != nil || got.Name != "okta" {
		t.Fatalf("AuthenticateToken = %+v, %v; want okta", got, err)
	}
	if err := accounts.RequireScope(got, accounts.ScopeSCIM); err != nil {
		t.Fatalf("RequireScope(scim) = %v", err)
	}
	if err := accounts.RequireScope(got, accounts.ScopeSP); accounts.ErrorCode(err) != accounts.Forbidden {
		t.Fatalf("RequireScope(sp) = %v, want Forbidden", err)
	}
	if _, _, err := f.svc.CreateToken(ctx, admin, accounts.NewToken{Name: "okta", Scopes: []accounts.Scope{accounts.ScopeSCIM}}); accounts.ErrorCode(err) != accounts.Conflict {
		t.Fatalf("second token named okta: %v, want Conflict", err)
	}

	wrong := bearer[:len(bearer)-4] + "AAAA"
	if wrong == bearer {
		wrong = bearer[:len(bearer)-4] + "BBBB"
	}
	for _, c := range []struct{ name, bearer string }{
		{"empty", ""}, {"no prefix", bearer[5:]}, {"wrong secret", wrong}, {"unknown ID", "fidp_0000000000000000_" + bearer[len(bearer)-43:]},
		{"garbage", "fidp_zz"},
	} {
		if _, err := f.svc.AuthenticateToken(ctx, c.bearer, "192.0.2.2"); !errors.Is(err, accounts.ErrBadToken) {
			t.Errorf("%s: AuthenticateToken = %v, want ErrBadToken", c.name, err)
		}
	}

	f.now = f.now.Add(25 * time.Hour)
	if _, err := f.svc.AuthenticateToken(ctx, bearer, "192.0.2.1"); !errors.Is(err, accounts.ErrBadToken) {
		t.Fatalf("expired: AuthenticateToken = %v, want ErrBadToken", err)
	}
	_, bearer2, err := f.svc.CreateToken(ctx, admin, accounts.NewToken{Name: "entra", Scopes: []accounts.Scope{accounts.ScopeSCIM}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RevokeToken(ctx, admin, "entra"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AuthenticateToken(ctx, bearer2, "192.0.2.1"); !errors.Is(err, accounts.ErrBadToken) {
		t.Fatalf("revoked: AuthenticateToken = %v, want ErrBadToken", err)
	}
	if _, err := f.svc.RevokeToken(ctx, admin, "nobody"); accounts.ErrorCode(err) != accounts.NotFound {
		t.Fatalf("RevokeToken(nobody) = %v, want NotFound", err)
	}
	events, err := f.st.ListAudit(ctx, store.AuditFilter{Action: "admin.token"})
	if err != nil || len(events) != 3 {
		t.Fatalf("token audit events = %d (%v), want create, create, revoke", len(events), err)
	}
	for _, e := range events {
		if strings.Contains(string(e.Details), bearer) || strings.Contains(string(e.Details), stored.SecretHash) {
			t.Fatalf("audit event %s records the secret or its hash", e.Action)
		}
	}
}

// TestAPITokenValidation: names, scopes and lifetimes that make no sense
// are refused with a sentence.
func TestAPITokenValidation(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		name string
		n    accounts.NewToken
	}{
		{"no name", accounts.NewToken{Scopes: []accounts.Scope{accounts.ScopeSCIM}}},
		{"spaces", accounts.NewToken{Name: "my token", Scopes: []accounts.Scope{accounts.ScopeSCIM}}},
		{"no scope", accounts.NewToken{Name: "t"}},
		{"unknown scope", accounts.NewToken{Name: "t", Scopes: []accounts.Scope{"root"}}},
		{"too long", accounts.NewToken{Name: "t", Scopes: []accounts.Scope{accounts.ScopeSCIM}, TTL: 10 * 365 * 24 * time.Hour}},
		{"negative", accounts.NewToken{Name: "t", Scopes: []accounts.Scope{accounts.ScopeSCIM}, TTL: -time.Hour}},
	} {
		if _, _, err := f.svc.CreateToken(context.Background(), admin, c.n); accounts.ErrorCode(err) != accounts.Invalid {
			t.Errorf("%s: CreateToken = %v, want Invalid", c.name, err)
		}
	}
	if _, err := accounts.ParseScopes("scim, users:read,scim"); err != nil {
		t.Fatalf("ParseScopes: %v", err)
	}
	if _, err := accounts.ParseScopes("scim,admin"); accounts.ErrorCode(err) != accounts.Invalid {
		t.Fatalf("ParseScopes(admin) = %v, want Invalid", err)
	}
}

// TestAPITokenThrottleAndLastUse: wrong secrets for one token are
// throttled (and then even the right one waits, as for a password), and
// LastUsedAt is written at most once a minute, not per request.
func TestAPITokenThrottleAndLastUse(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, bearer, err := f.svc.CreateToken(ctx, admin, accounts.NewToken{Name: "hr", Scopes: []accounts.Scope{accounts.ScopeSCIM}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AuthenticateToken(ctx, bearer, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	first, _ := f.st.GetAPIToken(ctx, tok.ID)
	if !first.LastUsedAt.Equal(f.now) {
		t.Fatalf("LastUsedAt = %v, want %v", first.LastUsedAt, f.now)
	}
	f.now = f.now.Add(30 * time.Second)
	if _, err := f.svc.AuthenticateToken(ctx, bearer, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	again, _ := f.st.GetAPIToken(ctx, tok.ID)
	if !again.UpdatedAt.Equal(first.UpdatedAt) {
		t.Fatalf("a second use within the minute wrote the token (UpdatedAt %v -> %v)", first.UpdatedAt, again.UpdatedAt)
	}
	f.now = f.now.Add(31 * time.Second)
	if _, err := f.svc.AuthenticateToken(ctx, bearer, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if later, _ := f.st.GetAPIToken(ctx, tok.ID); !later.LastUsedAt.Equal(f.now) {
		t.Fatalf("LastUsedAt after a minute = %v, want %v", later.LastUsedAt, f.now)
	}

	wrong := bearer[:len(bearer)-1] + "x"
	if wrong == bearer {
		wrong = bearer[:len(bearer)-1] + "y"
	}
	lock := f.svc.Lockout()
	var throttled *accounts.ThrottledError
	for i := 0; i < lock.LockAfter+1; i++ {
		_, err = f.svc.AuthenticateToken(ctx, wrong, "192.0.2.9")
		if errors.As(err, &throttled) {
			break
		}
	}
	if throttled == nil {
		t.Fatalf("after %d wrong secrets: %v, want *ThrottledError", lock.LockAfter+1, err)
	}
	if _, err := f.svc.AuthenticateToken(ctx, bearer, "192.0.2.1"); !errors.As(err, &throttled) {
		t.Fatalf("right secret during the back-off: %v, want *ThrottledError", err)
	}
}
