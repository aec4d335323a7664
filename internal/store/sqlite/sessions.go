package sqlite

import (
	"context"
	"time"

	"github.com/flexidp/flexidp/internal/store/sqltable"

	"github.com/flexidp/flexidp/internal/store"
)

var sessionRecord = newRecord(sqltable.Sessions, "created_at DESC, id DESC")

// CreateSession stores a new session; a zero CreatedAt is set to now. A
// session of a user that does not exist is store.ErrNotFound.
func (s *Store) CreateSession(ctx context.Context, ss store.Session) error {
	return sessionRecord.create(ctx, s, ss)
}

// GetSession returns the session with that ID, expired or not.
func (s *Store) GetSession(ctx context.Context, id string) (store.Session, error) {
	ss, err := sessionRecord.get(ctx, s.r, `id = ?`, id)
	return ss, wrap("get session", err)
}

// TouchSession sets the session's LastSeenAt.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	n, err := s.exec(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id = ?`, micros(at), id)
	return notFoundIfNone("touch session", n, err)
}

// VerifySession sets the session's VerifiedAt.
func (s *Store) VerifySession(ctx context.Context, id string, at time.Time) error {
	n, err := s.exec(ctx, `UPDATE sessions SET verified_at = ? WHERE id = ?`, micros(at), id)
	return notFoundIfNone("verify session", n, err)
}

// ListSessions returns the user's sessions, newest first.
func (s *Store) ListSessions(ctx context.Context, userID string) ([]store.Session, error) {
	return sessionRecord.list(ctx, s, "list sessions", `WHERE user_id = ?`, "", userID)
}

// DeleteSession removes one session.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return sessionRecord.delete(ctx, s, id)
}

// DeleteUserSessions removes every session of the user and returns how
// many there were.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	n, err := s.exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
	return int(n), wrap("delete user sessions", err)
}

// DeleteOtherSessions removes every session of the user except keepID, in
// one statement, and returns how many there were.
func (s *Store) DeleteOtherSessions(ctx context.Context, userID, keepID string) (int, error) {
	n, err := s.exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND id <> ?`, userID, keepID)
	return int(n), wrap("delete other sessions", err)
}

// DeleteExpiredSessions removes the sessions with ExpiresAt <= now and
// returns how many. Stored times are whole microseconds, so comparing them
// with now truncated to microseconds is exact.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	n, err := s.exec(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, micros(now))
	return int(n), wrap("delete expired sessions", err)
}
