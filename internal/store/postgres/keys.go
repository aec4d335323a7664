package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flexidp/flexidp/internal/store"
)

var keyRecord = (&record[store.SigningKey]{
	noun:    "signing key",
	table:   "signing_keys",
	cols:    []string{"id", "private_key", "certificate_pem", "state", "created_at", "updated_at"},
	order:   "created_at, id",
	key:     func(k *store.SigningKey) *string { return &k.ID },
	created: func(k *store.SigningKey) *time.Time { return &k.CreatedAt },
	updated: func(k *store.SigningKey) *time.Time { return &k.UpdatedAt },
	args: func(k *store.SigningKey) ([]any, error) {
		if err := checkState(k.State); err != nil {
			return nil, err
		}
		return []any{k.ID, orEmpty(k.PrivateKey), orEmpty(k.CertificatePEM), string(k.State),
			ts(k.CreatedAt), ts(k.UpdatedAt)}, nil
	},
	scan: func(row pgx.CollectableRow) (store.SigningKey, error) {
		var k store.SigningKey
		err := row.Scan(&k.ID, &k.PrivateKey, &k.CertificatePEM, &k.State, &k.CreatedAt, &k.UpdatedAt)
		k.CreatedAt, k.UpdatedAt = k.CreatedAt.UTC(), k.UpdatedAt.UTC()
		return k, err
	},
}).init()

// keysLockID is the pg_advisory_xact_lock key that serializes
// SetSigningKeyState, so that two activations apply one after the other
// (the last wins) instead of one failing on signing_keys_one_active_idx.
const keysLockID int64 = 0x666c6578_6b657973 // "flexkeys"

func checkState(state store.KeyState) error {
	switch state {
	case store.KeyActive, store.KeyNext, store.KeyRetired:
		return nil
	}
	return fmt.Errorf("invalid signing key state %q", state)
}

// CreateSigningKey implements store.Store. The partial unique index
// signing_keys_one_active_idx refuses a second active key.
func (s *Store) CreateSigningKey(ctx context.Context, k store.SigningKey) error {
	return keyRecord.create(ctx, s, k)
}

// ListSigningKeys implements store.Store.
func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	return keyRecord.list(ctx, s, "list signing keys", "", "")
}

// SetSigningKeyState implements store.Store.
func (s *Store) SetSigningKeyState(ctx context.Context, id string, state store.KeyState) error {
	op := fmt.Sprintf("set signing key %q %s", id, state)
	if err := checkState(state); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, keysLockID); err != nil {
			return err
		}
		now := s.stamp()
		if state == store.KeyActive {
			_, err := tx.Exec(ctx, `UPDATE signing_keys SET state = $2, updated_at = $3
				WHERE state = $4 AND id <> $1`, id, string(store.KeyRetired), now, string(store.KeyActive))
			if err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `UPDATE signing_keys SET state = $2, updated_at = $3 WHERE id = $1`, id, string(state), now)
		if err == nil && tag.RowsAffected() == 0 {
			return pgx.ErrNoRows // rolls back the retirement
		}
		return err
	})
	return wrap(op, err)
}
