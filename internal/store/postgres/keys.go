package postgres

import (
	"context"
	"fmt"

	"github.com/flexidp/flexidp/internal/store/sqltable"

	"github.com/jackc/pgx/v5"

	"github.com/flexidp/flexidp/internal/store"
)

var keyRecord = newRecord(sqltable.SigningKeys, "created_at, id")

// keysLockID is the pg_advisory_xact_lock key that serializes
// SetSigningKeyState, so that two activations apply one after the other
// (the last wins) instead of one failing on signing_keys_one_active_idx.
const keysLockID int64 = 0x666c6578_6b657973 // "flexkeys"

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
	if err := sqltable.CheckKeyState(state); err != nil {
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
