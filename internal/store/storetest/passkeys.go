package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/store"
)

func newPasskey(id, userID, name string, created time.Time) store.Passkey {
	return store.Passkey{ID: id, UserID: userID, Name: name, PublicKey: []byte("cose-key-" + id), SignCount: 7,
		Transports: []string{"internal", "hybrid"}, AAGUID: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		Flags: 0x1d, AttestationType: "none", AttestationFormat: "none", CreatedAt: created, UpdatedAt: created}
}

// storedPasskey is p as the store returns it.
func storedPasskey(p store.Passkey) store.Passkey {
	p.CreatedAt, p.UpdatedAt, p.LastUsedAt = stored(p.CreatedAt), stored(p.UpdatedAt), stored(p.LastUsedAt)
	return p
}

func testPasskeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUser(t, s, newUser(t, "u1", "one@example.com"))
	createUser(t, s, newUser(t, "u2", "two@example.com"))
	list, err := s.ListPasskeys(ctx, "u1")
	noErr(t, err, "ListPasskeys of a user without one")
	same(t, "ListPasskeys of a user without one", list, []store.Passkey(nil))
	wantErr(t, s.DeletePasskey(ctx, "u1", "nope"), store.ErrNotFound, "DeletePasskey of a missing passkey")
	wantErr(t, s.CreatePasskey(ctx, newPasskey("k0", "nobody", "x", t0)), store.ErrNotFound, "CreatePasskey of a missing user")
	updateMissing(t, "UpdatePasskey", s.UpdatePasskey)

	a, b := newPasskey("k1", "u1", "Laptop", t0), newPasskey("k2", "u1", "Phone", t0.Add(time.Minute))
	b.Transports, b.AAGUID = nil, nil // a platform authenticator that tells neither
	noErr(t, s.CreatePasskey(ctx, b), "CreatePasskey k2")
	noErr(t, s.CreatePasskey(ctx, a), "CreatePasskey k1")
	noErr(t, s.CreatePasskey(ctx, newPasskey("k3", "u2", "Key", t0)), "CreatePasskey of another user")
	// A credential ID is unique across users: nobody registers another's.
	wantErr(t, s.CreatePasskey(ctx, newPasskey("k1", "u2", "Copy", t0)), store.ErrConflict, "CreatePasskey of a taken ID")

	list, err = s.ListPasskeys(ctx, "u1")
	noErr(t, err, "ListPasskeys")
	same(t, "ListPasskeys (oldest first)", list, []store.Passkey{storedPasskey(a), storedPasskey(b)})

	get := func(ctx context.Context, id string) (store.Passkey, error) {
		list, err := s.ListPasskeys(ctx, "u1")
		for _, p := range list {
			if p.ID == id {
				return p, err
			}
		}
		return store.Passkey{}, store.ErrNotFound
	}
	used := t0.Add(time.Hour)
	got, err := s.UpdatePasskey(ctx, "k1", func(p store.Passkey) (store.Passkey, error) {
		p.SignCount, p.LastUsedAt, p.Flags = 8, used, 0x1f
		return p, nil
	})
	noErr(t, err, "UpdatePasskey")
	want := storedPasskey(a)
	want.SignCount, want.LastUsedAt, want.Flags, want.UpdatedAt = 8, stored(used), 0x1f, got.UpdatedAt
	same(t, "UpdatePasskey", got, want)
	if !got.UpdatedAt.After(stored(t0)) {
		t.Fatalf("UpdatePasskey did not stamp UpdatedAt: %v", got.UpdatedAt)
	}
	again, err := get(ctx, "k1")
	noErr(t, err, "get k1")
	same(t, "passkey after UpdatePasskey", again, got)
	updateRefused(t, "UpdatePasskey", "k1", s.UpdatePasskey, get, func(p *store.Passkey) { p.SignCount = 99 })
	if _, err := s.UpdatePasskey(ctx, "k1", func(p store.Passkey) (store.Passkey, error) {
		p.UserID = "u2"
		return p, nil
	}); err == nil {
		t.Fatal("UpdatePasskey moved a passkey to another user")
	}

	// A user removes only their own passkeys.
	wantErr(t, s.DeletePasskey(ctx, "u2", "k1"), store.ErrNotFound, "DeletePasskey of another user's passkey")
	noErr(t, s.DeletePasskey(ctx, "u1", "k1"), "DeletePasskey")
	list, err = s.ListPasskeys(ctx, "u1")
	noErr(t, err, "ListPasskeys")
	same(t, "ListPasskeys after DeletePasskey", list, []store.Passkey{storedPasskey(b)})

	noErr(t, s.CreatePasskey(ctx, a), "CreatePasskey k1 again")
	n, err := s.DeleteUserPasskeys(ctx, "u1")
	noErr(t, err, "DeleteUserPasskeys")
	if n != 2 {
		t.Fatalf("DeleteUserPasskeys: %d removed, want 2", n)
	}
	list, err = s.ListPasskeys(ctx, "u1")
	noErr(t, err, "ListPasskeys")
	same(t, "ListPasskeys after DeleteUserPasskeys", list, []store.Passkey(nil))
	list, err = s.ListPasskeys(ctx, "u2")
	noErr(t, err, "ListPasskeys u2")
	if len(list) != 1 {
		t.Fatalf("DeleteUserPasskeys of u1 touched u2's: %v", list)
	}

	// Passkeys go with their user.
	noErr(t, s.DeleteUser(ctx, "u2"), "DeleteUser")
	noErr(t, s.CreatePasskey(ctx, newPasskey("k3", "u1", "Reused ID of a deleted user", t0)), "CreatePasskey of a freed ID")
}
