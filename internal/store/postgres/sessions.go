package postgres

import (
	"context"
	"time"

	"github.com/flexidp/flexidp/internal/store/sqltable"

	"github.com/flexidp/flexidp/internal/store"
)

var sessionRecord = newRecord(sqltable.Sessions, "created_at DESC, id DESC")

// CreateSession implements store.Store. A zero CreatedAt is set to now.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	return sessionRecord.create(ctx, s, sess)
}

// GetSession implements store.Store.
func (s *Store) GetSession(ctx context.Context, id string) (store.Session, error) {
	sess, err := sessionRecord.get(ctx, s.pool, "id = $1", id)
	return sess, wrap("get session", err)
}

// TouchSession implements store.Store.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE sessions SET last_seen_at = $2 WHERE id = $1`, id, ts(at))
	return affected("touch session", tag, err)
}

// VerifySession implements store.Store.
func (s *Store) VerifySession(ctx context.Context, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE sessions SET verified_at = $2 WHERE id = $1`, id, ts(at))
	return affected("verify session", tag, err)
}

// ListSessions implements store.Store.
func (s *Store) ListSessions(ctx context.Context, userID string) ([]store.Session, error) {
	return sessionRecord.list(ctx, s, "list sessions", "WHERE user_id = $1", "", userID)
}

// DeleteSession implements store.Store.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return sessionRecord.delete(ctx, s, id)
}

// DeleteUserSessions implements store.Store.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
	return int(tag.RowsAffected()), wrap("delete user sessions", err)
}

// DeleteOtherSessions implements store.Store.
func (s *Store) DeleteOtherSessions(ctx context.Context, userID, keepID string) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id <> $2`, userID, keepID)
	return int(tag.RowsAffected()), wrap("delete other sessions", err)
}

// DeleteExpiredSessions implements store.Store.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, ts(now))
	return int(tag.RowsAffected()), wrap("delete expired sessions", err)
}
