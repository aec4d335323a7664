package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/flexidp/flexidp/internal/store"
)

// ConsumeOnce records key as used until expiresAt; store.ErrConflict if it
// is already recorded and not yet expired, while an expired record is
// replaced. The check and the write are one statement, so two callers,
// even in two processes, cannot both succeed. Expired records are pruned
// afterwards, which keeps the table as small as the replay window.
func (s *Store) ConsumeOnce(ctx context.Context, key string, expiresAt time.Time) error {
	now := micros(s.nowUTC())
	n, err := s.exec(ctx, `INSERT INTO consumed_ids (key, expires_at) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
		WHERE consumed_ids.expires_at <= ?`, key, micros(expiresAt), now)
	if err != nil {
		return wrap("consume once", err)
	}
	if n == 0 {
		return fmt.Errorf("consume once: %w", store.ErrConflict)
	}
	_, err = s.w.ExecContext(ctx, `DELETE FROM consumed_ids WHERE expires_at <= ?`, now)
	return wrap("prune consumed IDs", err)
}
