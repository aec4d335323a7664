package storetest

import (
	"errors"
	"testing"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// testAPITokens: tokens are stored and read back whole, names and IDs are
// unique, lists are ordered by name, and updates (last use, revocation)
// are read-modify-write.
func testAPITokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok := store.APIToken{ID: "a1", Name: "okta", SecretHash: "ab12", Scopes: []string{"scim", "users:read"},
		CreatedBy: "admin", CreatedAt: t0, ExpiresAt: tFuture}
	noErr(t, s.CreateAPIToken(ctx, tok), "CreateAPIToken")
	noErr(t, s.CreateAPIToken(ctx, store.APIToken{ID: "a0", Name: "entra", SecretHash: "cd34", Scopes: []string{"scim"},
		CreatedAt: t0, ExpiresAt: tFuture}), "CreateAPIToken")
	wantErr(t, s.CreateAPIToken(ctx, store.APIToken{ID: "a2", Name: "okta", SecretHash: "x", CreatedAt: t0}), store.ErrConflict,
		"CreateAPIToken with a taken name")
	wantErr(t, s.CreateAPIToken(ctx, store.APIToken{ID: "a1", Name: "other", SecretHash: "x", CreatedAt: t0}), store.ErrConflict,
		"CreateAPIToken with a taken ID")

	got, err := s.GetAPIToken(ctx, "a1")
	noErr(t, err, "GetAPIToken")
	want := tok
	want.CreatedAt, want.UpdatedAt, want.ExpiresAt = stored(t0), got.UpdatedAt, stored(tFuture)
	same(t, "GetAPIToken", got, want)
	_, err = s.GetAPIToken(ctx, "nope")
	wantErr(t, err, store.ErrNotFound, "GetAPIToken of a missing token")

	list, err := s.ListAPITokens(ctx)
	noErr(t, err, "ListAPITokens")
	if len(list) != 2 || list[0].Name != "entra" || list[1].Name != "okta" {
		t.Fatalf("ListAPITokens = %+v, want entra then okta", list)
	}

	upd, err := s.UpdateAPIToken(ctx, "a1", func(cur store.APIToken) (store.APIToken, error) {
		cur.RevokedAt, cur.LastUsedAt = tPast, t0
		return cur, nil
	})
	noErr(t, err, "UpdateAPIToken")
	got, err = s.GetAPIToken(ctx, "a1")
	noErr(t, err, "GetAPIToken after update")
	same(t, "updated token", got, upd)
	same(t, "revoked at", got.RevokedAt, stored(tPast))
	same(t, "last used at", got.LastUsedAt, stored(t0))
	boom := errors.New("boom")
	if _, err := s.UpdateAPIToken(ctx, "a1", func(store.APIToken) (store.APIToken, error) { return store.APIToken{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("UpdateAPIToken with a failing updater = %v, want boom", err)
	}
	_, err = s.UpdateAPIToken(ctx, "nope", func(c store.APIToken) (store.APIToken, error) { return c, nil })
	wantErr(t, err, store.ErrNotFound, "UpdateAPIToken of a missing token")
}

// testExternalID: a user's external ID is stored, changed, kept by an
// import that does not carry one, and found by ListUsers' ExternalID.
func testExternalID(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser(t, "u1", "one@example.com")
	u.ExternalID = "00u1abc"
	createUser(t, s, u)
	createUser(t, s, newUser(t, "u2", "two@example.com"))
	got, err := s.GetUser(ctx, "u1")
	noErr(t, err, "GetUser")
	same(t, "external ID", got.ExternalID, "00u1abc")
	list, err := s.ListUsers(ctx, store.UserFilter{ExternalID: "00u1abc"})
	noErr(t, err, "ListUsers by external ID")
	if len(list) != 1 || list[0].ID != "u1" {
		t.Fatalf("ListUsers(ExternalID) = %+v, want u1 only", list)
	}
	n, err := s.CountUsers(ctx, store.UserFilter{ExternalID: "none"})
	noErr(t, err, "CountUsers by external ID")
	same(t, "count of an unknown external ID", n, 0)

	imported := newUser(t, "", "one@example.com")
	imported.FullName = "One Renamed"
	_, err = s.ImportUsers(ctx, []users.User{imported})
	noErr(t, err, "ImportUsers")
	got, err = s.GetUser(ctx, "u1")
	noErr(t, err, "GetUser after import")
	same(t, "external ID after an import", got.ExternalID, "00u1abc")
}
