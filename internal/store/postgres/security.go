package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/store/sqltable"

	"github.com/jackc/pgx/v5"

	"github.com/flexidp/flexidp/internal/store"
)

const throttleCols = "key, failures, last_failure, locked_until, in_flight, last_attempt"

func scanThrottle(row pgx.CollectableRow) (store.Throttle, error) {
	var t store.Throttle
	err := row.Scan(&t.Key, &t.Failures, &t.LastFailure, &t.LockedUntil, &t.InFlight, &t.LastAttempt)
	t.LastFailure, t.LockedUntil, t.LastAttempt = t.LastFailure.UTC(), t.LockedUntil.UTC(), t.LastAttempt.UTC()
	return t, err
}

// UpdateThrottle implements store.Store. One statement creates the row or
// locks the existing one: with an INSERT ... DO NOTHING and a SELECT ...
// FOR UPDATE apart, a DeleteThrottle committed between the two left no row
// to lock. update runs while the row is locked.
func (s *Store) UpdateThrottle(ctx context.Context, key string, update func(store.Throttle) (store.Throttle, error)) (store.Throttle, error) {
	var out store.Throttle
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `INSERT INTO throttles (`+throttleCols+`) VALUES ($1, 0, $2, $2, 0, $2)
			ON CONFLICT (key) DO UPDATE SET key = throttles.key RETURNING `+throttleCols, key, time.Time{})
		old, err := pgx.CollectExactlyOneRow(rows, scanThrottle)
		if err != nil {
			return err
		}
		v, err := update(old)
		if err != nil {
			return updaterError{err}
		}
		v.Key = key
		if v.Empty() {
			out = store.Throttle{Key: key}
			_, err := tx.Exec(ctx, `DELETE FROM throttles WHERE key = $1`, key)
			return err
		}
		rows, _ = tx.Query(ctx, `UPDATE throttles SET failures = $2, last_failure = $3, locked_until = $4, in_flight = $5, last_attempt = $6
			WHERE key = $1 RETURNING `+throttleCols, key, v.Failures, ts(v.LastFailure), ts(v.LockedUntil), v.InFlight, ts(v.LastAttempt))
		out, err = pgx.CollectExactlyOneRow(rows, scanThrottle)
		return err
	})
	if ue := (updaterError{}); errors.As(err, &ue) {
		return out, ue.err
	}
	return out, wrap("update throttle", err)
}

// GetThrottle implements store.Store.
func (s *Store) GetThrottle(ctx context.Context, key string) (store.Throttle, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+throttleCols+` FROM throttles WHERE key = $1`, key)
	t, err := pgx.CollectExactlyOneRow(rows, scanThrottle)
	return t, wrap("get throttle", err)
}

// DeleteThrottle implements store.Store.
func (s *Store) DeleteThrottle(ctx context.Context, key string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM throttles WHERE key = $1`, key)
	return affected("delete throttle", tag, err)
}

// DeleteStaleThrottles implements store.Store.
func (s *Store) DeleteStaleThrottles(ctx context.Context, t time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM throttles WHERE last_failure < $1 AND locked_until < $1 AND last_attempt < $1`, ts(t))
	return int(tag.RowsAffected()), wrap("delete stale throttles", err)
}

const auditCols = "id, at, action, actor, user_id, email, sp, remote_addr, reason, details"

func scanAudit(row pgx.CollectableRow) (store.AuditEvent, error) {
	var e store.AuditEvent
	var details string
	err := row.Scan(&e.ID, &e.Time, &e.Action, &e.Actor, &e.UserID, &e.Email, &e.SP, &e.RemoteAddr, &e.Reason, &details)
	e.Time = e.Time.UTC()
	if details != "" {
		e.Details = []byte(details)
	}
	return e, err
}

// AppendAudit implements store.Store.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEvent) (store.AuditEvent, error) {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	rows, _ := s.pool.Query(ctx, `INSERT INTO audit_events (at, action, actor, user_id, email, sp, remote_addr, reason, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING `+auditCols,
		ts(e.Time), e.Action, e.Actor, e.UserID, e.Email, e.SP, e.RemoteAddr, e.Reason, string(e.Details))
	out, err := pgx.CollectExactlyOneRow(rows, scanAudit)
	return out, wrap("append audit event", err)
}

// ListAudit implements store.Store.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	where, args := auditWhere(f)
	q := `SELECT ` + auditCols + ` FROM audit_events` + where + " ORDER BY id DESC"
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += fmt.Sprintf(" LIMIT $%d", len(args))
	}
	rows, _ := s.pool.Query(ctx, q, args...)
	out, err := pgx.CollectRows(rows, scanAudit)
	if err != nil {
		return nil, wrap("list audit events", err)
	}
	return out, nil
}

// CountAudit implements store.Store.
func (s *Store) CountAudit(ctx context.Context, f store.AuditFilter) (int, error) {
	where, args := auditWhere(f)
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM audit_events`+where, args...).Scan(&n)
	return n, wrap("count audit events", err)
}

// auditWhere is the WHERE clause (or "") of f, with its arguments.
func auditWhere(f store.AuditFilter) (string, []any) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.User != "" {
		p := arg(f.User)
		where = append(where, "(user_id = "+p+" OR lower(email COLLATE \"und-x-icu\") = lower("+p+" COLLATE \"und-x-icu\"))")
	}
	if f.Actor != "" {
		where = append(where, "lower(actor COLLATE \"C\") = lower("+arg(f.Actor)+" COLLATE \"C\")")
	}
	if f.Before > 0 {
		where = append(where, "id < "+arg(f.Before))
	}
	if f.Action != "" {
		p := arg(f.Action)
		where = append(where, "(action = "+p+" OR starts_with(action, "+p+" || '.'))")
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= "+arg(ts(f.Since)))
	}
	if !f.Until.IsZero() {
		where = append(where, "at < "+arg(ts(f.Until)))
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

var mfaRecord = newRecord(sqltable.MFA, "user_id")

// PutMFA implements store.Store.
func (s *Store) PutMFA(ctx context.Context, m store.MFA) error {
	now := s.stamp()
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now
	}
	if m.UpdatedAt.IsZero() {
		m.UpdatedAt = now
	}
	args, _ := mfaRecord.args(&m)
	// A pending factor (confirmed_at is the zero time) may be replaced, a
	// confirmed one may not: of two enrolments racing, one wins.
	tag, err := s.pool.Exec(ctx, mfaRecord.insertSQL+` ON CONFLICT (user_id) DO UPDATE SET
		secret = EXCLUDED.secret, confirmed_at = EXCLUDED.confirmed_at, recovery_codes = EXCLUDED.recovery_codes,
		created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at
		WHERE mfa.confirmed_at < '1970-01-01 00:00:00+00'`, args...)
	if err == nil && tag.RowsAffected() == 0 {
		return fmt.Errorf("put second factor of user %s: a confirmed one exists: %w", m.UserID, store.ErrConflict)
	}
	return wrap("put second factor", err)
}

// GetMFA implements store.Store.
func (s *Store) GetMFA(ctx context.Context, userID string) (store.MFA, error) {
	m, err := mfaRecord.get(ctx, s.pool, "user_id = $1", userID)
	return m, wrap("get second factor", err)
}

// UpdateMFA implements store.Store.
func (s *Store) UpdateMFA(ctx context.Context, userID string, update func(store.MFA) (store.MFA, error)) (store.MFA, error) {
	return mfaRecord.update(ctx, s, userID, update)
}

// DeleteMFA implements store.Store.
func (s *Store) DeleteMFA(ctx context.Context, userID string) error {
	return mfaRecord.delete(ctx, s, userID)
}

var passkeyRecord = newRecord(sqltable.Passkeys, "created_at, id")

// CreatePasskey implements store.Store.
func (s *Store) CreatePasskey(ctx context.Context, p store.Passkey) error {
	return passkeyRecord.create(ctx, s, p)
}

// ListPasskeys implements store.Store.
func (s *Store) ListPasskeys(ctx context.Context, userID string) ([]store.Passkey, error) {
	return passkeyRecord.list(ctx, s, "list passkeys", "WHERE user_id = $1", "", userID)
}

// UpdatePasskey implements store.Store.
func (s *Store) UpdatePasskey(ctx context.Context, id string, update func(store.Passkey) (store.Passkey, error)) (store.Passkey, error) {
	return passkeyRecord.update(ctx, s, id, store.SameOwner(update))
}

// DeletePasskey implements store.Store.
func (s *Store) DeletePasskey(ctx context.Context, userID, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM passkeys WHERE id = $1 AND user_id = $2`, id, userID)
	return affected("delete passkey", tag, err)
}

// DeleteUserPasskeys implements store.Store.
func (s *Store) DeleteUserPasskeys(ctx context.Context, userID string) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM passkeys WHERE user_id = $1`, userID)
	return int(tag.RowsAffected()), wrap("delete user passkeys", err)
}

var tokenRecord = newRecord(sqltable.Tokens, "created_at DESC, id")

// CreateToken implements store.Store.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM user_tokens WHERE expires_at <= $1`, s.stamp()); err != nil {
		return wrap("prune tokens", err)
	}
	return tokenRecord.create(ctx, s, t)
}

// GetToken implements store.Store.
func (s *Store) GetToken(ctx context.Context, id string) (store.Token, error) {
	t, err := tokenRecord.get(ctx, s.pool, "id = $1", id)
	return t, wrap("get token", err)
}

// ConsumeToken implements store.Store. The DELETE ... RETURNING decides:
// of concurrent callers only one gets the row.
func (s *Store) ConsumeToken(ctx context.Context, id string, now time.Time) (store.Token, error) {
	var out store.Token
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `DELETE FROM user_tokens WHERE id = $1 RETURNING `+strings.Join(tokenRecord.Cols, ", "), id)
		t, err := pgx.CollectExactlyOneRow(rows, tokenRecord.scan)
		if err != nil {
			return err
		}
		if !ts(now).Before(t.ExpiresAt) {
			return pgx.ErrNoRows // rolled back: the next CreateToken prunes it
		}
		out = t
		_, err = tx.Exec(ctx, `DELETE FROM user_tokens WHERE user_id = $1`, t.UserID)
		return err
	})
	return out, wrap("consume token", err)
}
