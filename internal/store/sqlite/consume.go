package sqlite

import (
	"context"
	"fmt"
	"sync/atomic"
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

// pruneEvery is how often RecordVisit deletes expired replay records. An
// expired record is replaced when its key comes again whether or not it
// was pruned, so this only bounds the table (the replay window plus
// pruneEvery) while the SSO Responses in between skip the DELETE.
const pruneEvery = time.Second

// pruneClock is when the next prune is due, in Unix microseconds.
type pruneClock struct{ next atomic.Int64 }

// due reports whether a prune is due at now, and if so makes the next one
// due pruneEvery later: of concurrent callers, one prunes.
func (p *pruneClock) due(now time.Time) bool {
	next, at := p.next.Load(), now.UnixMicro()
	return at >= next && p.next.CompareAndSwap(next, at+pruneEvery.Microseconds())
}
