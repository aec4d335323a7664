package sqlite

import (
	"context"
	"fmt"

	"github.com/flexidp/flexidp/internal/store/sqltable"

	"github.com/flexidp/flexidp/internal/store"
)

var keyRecord = newRecord(sqltable.SigningKeys, "created_at, id")

// CreateSigningKey stores a key; zero CreatedAt and UpdatedAt are set to
// now. The partial unique index signing_keys_one_active refuses a second
// active key with store.ErrConflict.
func (s *Store) CreateSigningKey(ctx context.Context, k store.SigningKey) error {
	return keyRecord.create(ctx, s, k)
}

// ListSigningKeys returns all keys, oldest first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	return keyRecord.list(ctx, s, "list signing keys", "", "")
}

// SetSigningKeyState changes a key's state. Activating a key retires the
// active one in the same transaction, so there is never a moment with two;
// two activations apply one after the other, the last winning.
func (s *Store) SetSigningKeyState(ctx context.Context, id string, state store.KeyState) error {
	op := fmt.Sprintf("set signing key %q %s", id, state)
	if err := sqltable.CheckKeyState(state); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	now := micros(s.nowUTC())
	return s.write(ctx, func(tx *txn) error {
		if state == store.KeyActive {
			_, err := tx.ExecContext(ctx, `UPDATE signing_keys SET state = ?, updated_at = ?
				WHERE state = ? AND id <> ?`, string(store.KeyRetired), now, string(store.KeyActive), id)
			if err != nil {
				return wrap(op, err)
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE signing_keys SET state = ?, updated_at = ? WHERE id = ?`,
			string(state), now, id)
		if err != nil {
			return wrap(op, err)
		}
		n, err := res.RowsAffected()
		return notFoundIfNone(op, n, err) // rolls back the retirement
	})
}
