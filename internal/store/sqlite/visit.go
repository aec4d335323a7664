package sqlite

import (
	"context"
	"fmt"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/sqltable"
	"github.com/flexidp/flexidp/internal/users"
)

var sessionUserSQL = "SELECT " + sqltable.Qualified("s", sessionRecord.Cols) + ", " + sqltable.Qualified("u", userRecord.Cols) +
	" FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?"

// GetSessionUser returns the session and its user in one query.
func (s *Store) GetSessionUser(ctx context.Context, id string) (store.Session, users.User, error) {
	sess, u, err := sqltable.ReadJoined(sessionRecord.read, userRecord.read, s.r.QueryRowContext(ctx, sessionUserSQL, id).Scan)
	if err != nil {
		return store.Session{}, users.User{}, wrap("get session and user", err)
	}
	return sess, u, nil
}

// RecordVisit writes v in one transaction of the writer: the replay
// record first, and nothing else when it is in use.
func (s *Store) RecordVisit(ctx context.Context, v store.Visit) error {
	now := s.nowUTC()
	return s.write(ctx, func(tx *txn) error {
		if v.SP != nil {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM service_providers WHERE name = ? AND version = ?`,
				v.SP.Name, v.SP.Version).Scan(&n); err != nil {
				return wrap("record visit", err)
			}
			if n == 0 {
				return fmt.Errorf("record visit: service provider %q: %w", v.SP.Name, store.ErrChanged)
			}
		}
		if v.Once != nil {
			res, err := tx.ExecContext(ctx, `INSERT INTO consumed_ids (key, expires_at) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
				WHERE consumed_ids.expires_at <= ?`, v.Once.Key, micros(v.Once.ExpiresAt), micros(now))
			if err != nil {
				return wrap("record visit", err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return wrap("record visit", err)
			} else if n == 0 {
				return fmt.Errorf("record visit: request already answered: %w", store.ErrConflict)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM consumed_ids WHERE expires_at <= ?`, micros(now)); err != nil {
				return wrap("prune consumed IDs", err)
			}
		}
		if v.EndSession != "" {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, v.EndSession); err != nil {
				return wrap("record visit: end session", err)
			}
		}
		if v.StartSession != nil {
			sess := *v.StartSession
			if sess.CreatedAt.IsZero() {
				sess.CreatedAt = now
			}
			args, err := sessionRecord.args(&sess)
			if err == nil {
				_, err = tx.ExecContext(ctx, sessionRecord.insertSQL, args...)
			}
			if err != nil {
				return wrap("record visit: start session", err)
			}
		}
		if v.TouchSession != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id = ?`, micros(v.TouchAt), v.TouchSession); err != nil {
				return wrap("record visit: touch session", err)
			}
		}
		for _, e := range v.Audit {
			if _, err := appendAudit(ctx, tx, now, e); err != nil {
				return err
			}
		}
		return nil
	})
}
