package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// testErrorsAreStoreErrors: every conflict and every missing record comes
// back as store.ErrConflict or store.ErrNotFound, whatever the backend,
// with no driver error text in it; a refused activation changes nothing.
func testErrorsAreStoreErrors(t *testing.T, s store.Store) {
	ctx := context.Background()
	createUser(t, s, newUser(t, "u1", "Émile@example.com"))
	createUser(t, s, newUser(t, "u2", "zoe@example.com"))
	createSP(t, s, newSP(t, "flex", "https://flex/a"))
	createSessions(t, s, newSession("s1", "u1", 60))
	noErr(t, s.CreateSigningKey(ctx, newKey("k1", store.KeyActive, 0)), "create key")
	second := func(_ any, err error) error { return err }

	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"user ID taken", s.CreateUser(ctx, newUser(t, "u1", "other@example.com")), store.ErrConflict},
		{"email taken, other case, non-ASCII", s.CreateUser(ctx, newUser(t, "u3", "ÉMILE@EXAMPLE.COM")), store.ErrConflict},
		{"email taken by update", second(s.UpdateUser(ctx, "u2", func(u users.User) (users.User, error) {
			u.Email = "émile@example.com"
			return u, nil
		})), store.ErrConflict},
		{"SP name taken", s.CreateServiceProvider(ctx, newSP(t, "flex", "x")), store.ErrConflict},
		{"entity ID taken", s.CreateServiceProvider(ctx, newSP(t, "other", "https://flex/a")), store.ErrConflict},
		{"session ID taken", s.CreateSession(ctx, newSession("s1", "u2", 60)), store.ErrConflict},
		{"second active key", s.CreateSigningKey(ctx, newKey("k2", store.KeyActive, 1)), store.ErrConflict},
		{"key ID taken", s.CreateSigningKey(ctx, newKey("k1", store.KeyNext, 2)), store.ErrConflict},
		{"no such user", second(s.GetUser(ctx, "nope")), store.ErrNotFound},
		{"no such email", second(s.GetUserByEmail(ctx, "nope@example.com")), store.ErrNotFound},
		{"update missing user", second(s.UpdateUser(ctx, "nope", func(u users.User) (users.User, error) { return u, nil })), store.ErrNotFound},
		{"assign missing user", s.AssignUser(ctx, "nope", "flex"), store.ErrNotFound},
		{"assign missing SP", s.AssignUser(ctx, "u1", "nope"), store.ErrNotFound},
		{"session of missing user", s.CreateSession(ctx, newSession("s2", "nope", 60)), store.ErrNotFound},
		{"activate missing key", s.SetSigningKeyState(ctx, "nope", store.KeyActive), store.ErrNotFound},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, tc.err, tc.want)
			continue
		}
		msg := strings.ToLower(tc.err.Error())
		for _, leak := range []string{"sqlstate", "sqlite", "no rows", "constraint", "duplicate key", "violates"} {
			if strings.Contains(msg, leak) {
				t.Errorf("%s: the driver's error leaks: %v", tc.name, tc.err)
			}
		}
	}
	if got := keyStates(t, s); len(got) != 1 || got["k1"] != store.KeyActive {
		t.Errorf("keys after refused changes: %v", got)
	}
}

// testUpdateKeepsKey: an updater may not change the record's key; the row
// is left as it was, and the updater's own error comes back as is.
func testUpdateKeepsKey(t *testing.T, s store.Store) {
	ctx := context.Background()
	createUser(t, s, newUser(t, "u1", "a@example.com"))
	createSP(t, s, newSP(t, "flex", "e"))
	if _, err := s.UpdateUser(ctx, "u1", func(u users.User) (users.User, error) {
		u.ID, u.Email = "u2", "b@example.com"
		return u, nil
	}); err == nil {
		t.Error("UpdateUser changed the ID")
	}
	if _, err := s.UpdateServiceProvider(ctx, "flex", func(p sp.ServiceProvider) (sp.ServiceProvider, error) {
		p.Name = "other"
		return p, nil
	}); err == nil {
		t.Error("UpdateServiceProvider changed the name")
	}
	u, err := s.GetUser(ctx, "u1")
	noErr(t, err, "get user")
	if u.Email != "a@example.com" {
		t.Errorf("email = %q after a refused update", u.Email)
	}
	if _, err := s.GetUser(ctx, "u2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused update created user u2 (%v)", err)
	}
}

// testRoundTrip: records come back as stored, normalised as every backend
// does: UTC, whole microseconds, an empty list as nil.
func testRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := time.Date(2026, 3, 4, 5, 6, 7, 891011121, time.FixedZone("X", 3600))
	want := stored(at)

	u := users.User{ID: "u1", Email: "Ann@Example.com", FullName: "Ann Ó", Roles: []string{},
		Disabled: true, PasswordHash: "$argon2id$x", CreatedAt: at, UpdatedAt: at}
	noErr(t, s.CreateUser(ctx, u), "create user")
	got, err := s.GetUser(ctx, "u1")
	noErr(t, err, "get user")
	u.CreatedAt, u.UpdatedAt, u.Roles = want, want, nil
	same(t, "user", got, u)

	p := sp.ServiceProvider{Name: "flex", EntityID: "https://flex", ACSURLs: []string{"https://a", "https://b"},
		SessionNotOnOrAfter: 90 * time.Minute, AssignmentRequired: true, CreatedAt: at, UpdatedAt: at}
	noErr(t, s.CreateServiceProvider(ctx, p), "create SP")
	gotSP, err := s.GetServiceProviderByEntityID(ctx, "https://flex")
	noErr(t, err, "get SP")
	p.CreatedAt, p.UpdatedAt = want, want
	same(t, "SP", gotSP, p)

	ss := store.Session{ID: "s1", UserID: "u1", Index: "i1", AuthnInstant: at, CreatedAt: at, LastSeenAt: at,
		ExpiresAt: at.Add(time.Hour), RemoteAddr: "192.0.2.1", UserAgent: "test"}
	noErr(t, s.CreateSession(ctx, ss), "create session")
	gotS, err := s.GetSession(ctx, "s1")
	noErr(t, err, "get session")
	ss.AuthnInstant, ss.CreatedAt, ss.LastSeenAt, ss.ExpiresAt = want, want, want, want.Add(time.Hour)
	same(t, "session", gotS, ss)
}
