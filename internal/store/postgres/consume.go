package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/flexidp/flexidp/internal/store"
)

// ConsumeOnce implements store.Store. One statement decides: the insert
// wins, or the conflicting row is replaced only if it has expired. Rows
// that conflict are locked, so of concurrent callers exactly one succeeds.
func (s *Store) ConsumeOnce(ctx context.Context, key string, expiresAt time.Time) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO consumed_ids (key, expires_at) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at
		WHERE consumed_ids.expires_at <= $3`, key, ts(expiresAt), s.stamp())
	if err == nil && tag.RowsAffected() == 0 {
		return fmt.Errorf("consume once: %w", store.ErrConflict)
	}
	return wrap("consume once", err)
}
