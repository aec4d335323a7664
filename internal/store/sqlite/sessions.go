package sqlite

import (
	"context"
	"time"

	"github.com/flexidp/flexidp/internal/store"
)

var sessionRecord = (&record[store.Session]{
	noun:  "session",
	table: "sessions",
	cols: []string{"id", "user_id", "session_index", "authn_instant", "created_at", "last_seen_at",
		"expires_at", "remote_addr", "user_agent"},
	order:   "created_at DESC, id DESC",
	key:     func(ss *store.Session) *string { return &ss.ID },
	created: func(ss *store.Session) *time.Time { return &ss.CreatedAt },
	args: func(ss *store.Session) ([]any, error) {
		return []any{ss.ID, ss.UserID, ss.Index, micros(ss.AuthnInstant), micros(ss.CreatedAt),
			micros(ss.LastSeenAt), micros(ss.ExpiresAt), ss.RemoteAddr, ss.UserAgent}, nil
	},
	scan: func(sc scanner) (store.Session, error) {
		var (
			ss                            store.Session
			authn, created, seen, expires int64
		)
		err := sc.Scan(&ss.ID, &ss.UserID, &ss.Index, &authn, &created, &seen, &expires, &ss.RemoteAddr, &ss.UserAgent)
		if err != nil {
			return store.Session{}, err
		}
		ss.AuthnInstant, ss.CreatedAt = fromMicros(authn), fromMicros(created)
		ss.LastSeenAt, ss.ExpiresAt = fromMicros(seen), fromMicros(expires)
		return ss, nil
	},
}).init()

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

// DeleteExpiredSessions removes the sessions with ExpiresAt <= now and
// returns how many. Stored times are whole microseconds, so comparing them
// with now truncated to microseconds is exact.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	n, err := s.exec(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, micros(now))
	return int(n), wrap("delete expired sessions", err)
}
