package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/store"
)

// newKey is a key created at t0+minutes.
func newKey(id string, state store.KeyState, minutes int) store.SigningKey {
	created := t0.Add(time.Duration(minutes) * time.Minute)
	return store.SigningKey{
		ID:             id,
		PrivateKey:     []byte("-----BEGIN PRIVATE KEY-----\n" + id + "\x00\xff\n-----END PRIVATE KEY-----\n"),
		CertificatePEM: []byte("-----BEGIN CERTIFICATE-----\n" + id + "\n-----END CERTIFICATE-----\n"),
		State:          state,
		CreatedAt:      created,
		UpdatedAt:      created,
	}
}

func keyAsStored(k store.SigningKey) store.SigningKey {
	k.CreatedAt, k.UpdatedAt = stored(k.CreatedAt), stored(k.UpdatedAt)
	return k
}

// keyStates returns the state of each key by ID.
func keyStates(t *testing.T, s store.Store) map[string]store.KeyState {
	t.Helper()
	keys, err := s.ListSigningKeys(t.Context())
	noErr(t, err, "ListSigningKeys")
	states := map[string]store.KeyState{}
	for _, k := range keys {
		states[k.ID] = k.State
	}
	return states
}

func testSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	keys, err := s.ListSigningKeys(ctx)
	noErr(t, err, "ListSigningKeys")
	same(t, "ListSigningKeys of an empty store", keys, nil)

	k1, k2, k3 := newKey("k1", store.KeyActive, 0), newKey("k2", store.KeyNext, 2), newKey("k3", store.KeyRetired, 1)
	for _, k := range []store.SigningKey{k1, k2, k3} {
		noErr(t, s.CreateSigningKey(ctx, k), "CreateSigningKey "+k.ID)
	}
	wantErr(t, s.CreateSigningKey(ctx, newKey("k4", store.KeyActive, 3)), store.ErrConflict, "CreateSigningKey of a second active key")
	wantErr(t, s.CreateSigningKey(ctx, newKey("k2", store.KeyNext, 3)), store.ErrConflict, "CreateSigningKey with a taken ID")

	keys, err = s.ListSigningKeys(ctx)
	noErr(t, err, "ListSigningKeys")
	same(t, "ListSigningKeys (oldest first)", keys, []store.SigningKey{keyAsStored(k1), keyAsStored(k3), keyAsStored(k2)})

	// Activating k2 retires k1 in the same step.
	noErr(t, s.SetSigningKeyState(ctx, "k2", store.KeyActive), "SetSigningKeyState k2 active")
	same(t, "states after activating k2", keyStates(t, s),
		map[string]store.KeyState{"k1": store.KeyRetired, "k2": store.KeyActive, "k3": store.KeyRetired})
	after, err := s.ListSigningKeys(ctx)
	noErr(t, err, "ListSigningKeys")
	for i, k := range after {
		same(t, "CreatedAt of "+k.ID+" after a state change", k.CreatedAt, keys[i].CreatedAt)
		if k.ID != "k3" && !k.UpdatedAt.After(keys[i].UpdatedAt) {
			t.Errorf("key %s changed state but its UpdatedAt is still %v", k.ID, k.UpdatedAt)
		}
	}

	// Activating the active key changes nothing; other states retire no one.
	noErr(t, s.SetSigningKeyState(ctx, "k2", store.KeyActive), "SetSigningKeyState k2 active again")
	noErr(t, s.SetSigningKeyState(ctx, "k1", store.KeyNext), "SetSigningKeyState k1 next")
	same(t, "states after k1 next", keyStates(t, s),
		map[string]store.KeyState{"k1": store.KeyNext, "k2": store.KeyActive, "k3": store.KeyRetired})
	noErr(t, s.SetSigningKeyState(ctx, "k2", store.KeyRetired), "SetSigningKeyState k2 retired")
	same(t, "states after retiring the active key", keyStates(t, s),
		map[string]store.KeyState{"k1": store.KeyNext, "k2": store.KeyRetired, "k3": store.KeyRetired})
	// With no active key, a new one may be created active.
	noErr(t, s.CreateSigningKey(ctx, newKey("k5", store.KeyActive, 4)), "CreateSigningKey active when none is")

	wantErr(t, s.SetSigningKeyState(ctx, "nope", store.KeyActive), store.ErrNotFound, "SetSigningKeyState of a missing key")
	same(t, "states after a failed activation", keyStates(t, s),
		map[string]store.KeyState{"k1": store.KeyNext, "k2": store.KeyRetired, "k3": store.KeyRetired, "k5": store.KeyActive})
}

func testSigningKeysConcurrentActive(t *testing.T, s store.Store) {
	const n = 10
	errs := parallel(t, n, func(ctx context.Context, i int) error {
		return s.CreateSigningKey(ctx, newKey(id("k", i), store.KeyActive, i))
	})
	oneWinner(t, errs, "CreateSigningKey of an active key")
	keys, err := s.ListSigningKeys(t.Context())
	noErr(t, err, "ListSigningKeys")
	if len(keys) != 1 || keys[0].State != store.KeyActive {
		t.Fatalf("ListSigningKeys after the race: %+v, want the one winner", keys)
	}

	// Concurrent activations of different keys leave exactly one active.
	for i := range n {
		noErr(t, s.CreateSigningKey(t.Context(), newKey(id("next", i), store.KeyNext, n+i)), "CreateSigningKey next")
	}
	errs = parallel(t, n, func(ctx context.Context, i int) error {
		return s.SetSigningKeyState(ctx, id("next", i), store.KeyActive)
	})
	for i, err := range errs {
		if err != nil && !errors.Is(err, store.ErrConflict) {
			t.Errorf("SetSigningKeyState #%d: %v, want nil or ErrConflict", i, err)
		}
	}
	active := 0
	for _, state := range keyStates(t, s) {
		if state == store.KeyActive {
			active++
		}
	}
	if active != 1 {
		t.Fatalf("%d active keys after concurrent activations, want 1", active)
	}
}
