package storetest

import (
	"context"
	"testing"

	"github.com/flexidp/flexidp/internal/store"
)

func testConsumeOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	noErr(t, s.ConsumeOnce(ctx, "idp|_req1", tFuture), "ConsumeOnce")
	wantErr(t, s.ConsumeOnce(ctx, "idp|_req1", tFuture), store.ErrConflict, "ConsumeOnce of a used key")
	wantErr(t, s.ConsumeOnce(ctx, "idp|_req1", tPast), store.ErrConflict, "ConsumeOnce of a used key, expiring earlier")
	noErr(t, s.ConsumeOnce(ctx, "idp|_req2", tFuture), "ConsumeOnce of another key")
	noErr(t, s.ConsumeOnce(ctx, "IDP|_REQ1", tFuture), "ConsumeOnce of a key differing in case")

	// A record that has expired is replaced, and then holds.
	noErr(t, s.ConsumeOnce(ctx, "idp|_old", tPast), "ConsumeOnce expiring in the past")
	noErr(t, s.ConsumeOnce(ctx, "idp|_old", tFuture), "ConsumeOnce over an expired record")
	wantErr(t, s.ConsumeOnce(ctx, "idp|_old", tFuture), store.ErrConflict, "ConsumeOnce over the replacing record")
}

func testConsumeOnceConcurrent(t *testing.T, s store.Store) {
	const n = 20
	for _, key := range []string{"fresh", "expired"} {
		if key == "expired" {
			noErr(t, s.ConsumeOnce(t.Context(), key, tPast), "ConsumeOnce expiring in the past")
		}
		errs := parallel(t, n, func(ctx context.Context, _ int) error { return s.ConsumeOnce(ctx, key, tFuture) })
		oneWinner(t, errs, "ConsumeOnce of a "+key+" key")
	}
}
