package sqlite

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/store/sqltable"

	"github.com/flexidp/flexidp/internal/store"
)

const throttleCols = "key, failures, last_failure, locked_until, in_flight, last_attempt"

func scanThrottle(sc scanner) (store.Throttle, error) {
	var t store.Throttle
	var last, locked, attempt int64
	if err := sc.Scan(&t.Key, &t.Failures, &last, &locked, &t.InFlight, &attempt); err != nil {
		return store.Throttle{}, err
	}
	t.LastFailure, t.LockedUntil, t.LastAttempt = fromMicros(last), fromMicros(locked), fromMicros(attempt)
	return t, nil
}

// UpdateThrottle runs update on the key's throttle record, created if
// missing, in one IMMEDIATE transaction; an Empty result removes it.
// update must not call the Store's write methods.
func (s *Store) UpdateThrottle(ctx context.Context, key string, update func(store.Throttle) (store.Throttle, error)) (store.Throttle, error) {
	var out store.Throttle
	get := `SELECT ` + throttleCols + ` FROM throttles WHERE key = ?`
	err := s.write(ctx, func(tx *txn) error {
		zero := micros(time.Time{})
		if _, err := tx.ExecContext(ctx, `INSERT INTO throttles (`+throttleCols+`) VALUES (?, 0, ?, ?, 0, ?)
			ON CONFLICT (key) DO NOTHING`, key, zero, zero, zero); err != nil {
			return wrap("update throttle", err)
		}
		old, err := scanThrottle(tx.QueryRowContext(ctx, get, key))
		if err != nil {
			return wrap("update throttle", err)
		}
		v, err := update(old)
		if err != nil {
			return err
		}
		if v.Empty() {
			out = store.Throttle{Key: key}
			_, err := tx.ExecContext(ctx, `DELETE FROM throttles WHERE key = ?`, key)
			return wrap("update throttle", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE throttles SET failures = ?, last_failure = ?, locked_until = ?, in_flight = ?, last_attempt = ? WHERE key = ?`,
			v.Failures, micros(v.LastFailure), micros(v.LockedUntil), v.InFlight, micros(v.LastAttempt), key); err != nil {
			return wrap("update throttle", err)
		}
		out, err = scanThrottle(tx.QueryRowContext(ctx, get, key))
		return wrap("update throttle", err)
	})
	if err != nil {
		return store.Throttle{}, err
	}
	return out, nil
}

// GetThrottle returns the key's throttle record.
func (s *Store) GetThrottle(ctx context.Context, key string) (store.Throttle, error) {
	t, err := scanThrottle(s.r.QueryRowContext(ctx, `SELECT `+throttleCols+` FROM throttles WHERE key = ?`, key))
	return t, wrap("get throttle", err)
}

// DeleteThrottle forgets key.
func (s *Store) DeleteThrottle(ctx context.Context, key string) error {
	n, err := s.exec(ctx, `DELETE FROM throttles WHERE key = ?`, key)
	return notFoundIfNone("delete throttle", n, err)
}

// DeleteStaleThrottles removes the records last failed, locked and
// attempted before t.
func (s *Store) DeleteStaleThrottles(ctx context.Context, t time.Time) (int, error) {
	n, err := s.exec(ctx, `DELETE FROM throttles WHERE last_failure < ? AND locked_until < ? AND last_attempt < ?`,
		micros(t), micros(t), micros(t))
	return int(n), wrap("delete stale throttles", err)
}

const auditCols = "id, at, action, actor, user_id, email, sp, remote_addr, reason, details"

func scanAudit(sc scanner) (store.AuditEvent, error) {
	var e store.AuditEvent
	var at int64
	var details string
	if err := sc.Scan(&e.ID, &at, &e.Action, &e.Actor, &e.UserID, &e.Email, &e.SP, &e.RemoteAddr, &e.Reason, &details); err != nil {
		return store.AuditEvent{}, err
	}
	e.Time = fromMicros(at)
	if details != "" {
		e.Details = []byte(details)
	}
	return e, nil
}

// AppendAudit stores e with the next ID.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEvent) (store.AuditEvent, error) {
	return appendAudit(ctx, s.w, s.now(), e)
}

// appendAudit stores e on q (the writer, or a transaction of it); a zero
// Time is set to now.
func appendAudit(ctx context.Context, q querier, now time.Time, e store.AuditEvent) (store.AuditEvent, error) {
	if e.Time.IsZero() {
		e.Time = now
	}
	out, err := scanAudit(q.QueryRowContext(ctx, insertAuditSQL+` RETURNING `+auditCols, auditArgs(e)...))
	return out, wrap("append audit event", err)
}

// insertAuditSQL inserts one audit event (auditArgs); RecordVisit runs it
// without reading the row back.
const insertAuditSQL = `INSERT INTO audit_events
		(at, action, actor, user_id, email, email_key, sp, remote_addr, reason, details)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// auditArgs are insertAuditSQL's arguments for e.
func auditArgs(e store.AuditEvent) []any { return appendAuditArgs(make([]any, 0, auditFields), e) }

// auditFields is the number of insertAuditSQL's arguments.
const auditFields = 10

// appendAuditArgs appends insertAuditSQL's arguments for e to args.
func appendAuditArgs(args []any, e store.AuditEvent) []any {
	return append(args, micros(e.Time), e.Action, e.Actor, e.UserID, e.Email, strings.ToLower(e.Email), e.SP, e.RemoteAddr, e.Reason, string(e.Details))
}

// insertAuditRowsSQL[k] inserts 1<<k audit events, each with its
// auditArgs: the statements flushAudit writes a transaction's events with.
var insertAuditRowsSQL = func() (q [maxAuditRowsLog + 1]string) {
	row := "(" + strings.Repeat("?, ", auditFields-1) + "?)"
	for k := range q {
		q[k] = strings.Replace(insertAuditSQL, "VALUES "+row, "VALUES "+strings.Repeat(row+", ", 1<<k-1)+row, 1)
	}
	return q
}()

// maxAuditRowsLog bounds the events one statement of flushAudit inserts:
// 1<<maxAuditRowsLog, 640 arguments (SQLite allows 32,766).
const maxAuditRowsLog = 6

// queueAudit adds e to the events t writes just before it commits
// (flushAudit).
func (t *txn) queueAudit(e store.AuditEvent) { t.audit = append(t.audit, e) }

// flushAudit writes the events queued in t, in their order, in as few
// statements as the powers of two their number adds up to (35 events: 32,
// 2 and 1): a statement's own cost (the driver's call, SQLite's step and
// reset) is paid once for many rows, and the texts are a handful, each
// prepared once.
func (t *txn) flushAudit(ctx context.Context) error {
	rows := t.audit
	t.audit = nil
	for len(rows) > 0 {
		k := min(bits.Len(uint(len(rows)))-1, maxAuditRowsLog)
		n := 1 << k
		args := make([]any, 0, n*auditFields)
		for _, e := range rows[:n] {
			args = appendAuditArgs(args, e)
		}
		if _, err := t.ExecContext(ctx, insertAuditRowsSQL[k], args...); err != nil {
			return wrap("append audit events", err)
		}
		rows = rows[n:]
	}
	return nil
}

// ListAudit returns the matching events, newest first.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	where, args := auditWhere(f)
	q := `SELECT ` + auditCols + ` FROM audit_events` + where + " ORDER BY id DESC"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	return collect(ctx, s, "list audit events", scanAudit, q, args...)
}

// CountAudit returns how many events match f, ignoring f.Limit.
func (s *Store) CountAudit(ctx context.Context, f store.AuditFilter) (int, error) {
	where, args := auditWhere(f)
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM audit_events`+where, args...).Scan(&n)
	return n, wrap("count audit events", err)
}

// auditWhere is the WHERE clause (or "") of f, with its arguments.
func auditWhere(f store.AuditFilter) (string, []any) {
	var where []string
	var args []any
	if f.User != "" {
		where = append(where, "(user_id = ? OR email_key = ?)")
		args = append(args, f.User, strings.ToLower(f.User))
	}
	if f.Actor != "" {
		where = append(where, "lower(actor) = lower(?)")
		args = append(args, f.Actor)
	}
	if f.Before > 0 {
		where = append(where, "id < ?")
		args = append(args, f.Before)
	}
	if f.Action != "" {
		// substr, not LIKE, so that % and _ match themselves.
		where = append(where, "(action = ? OR substr(action, 1, ?) = ?)")
		args = append(args, f.Action, len(f.Action)+1, f.Action+".")
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, micros(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "at < ?")
		args = append(args, micros(f.Until))
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

var mfaRecord = newRecord(sqltable.MFA, "user_id")

// PutMFA stores m, replacing the user's pending second factor; ErrConflict
// if a confirmed one exists.
func (s *Store) PutMFA(ctx context.Context, m store.MFA) error {
	now := s.nowUTC()
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now
	}
	if m.UpdatedAt.IsZero() {
		m.UpdatedAt = now
	}
	args, err := mfaRecord.args(&m)
	if err != nil {
		return err
	}
	// A pending factor (confirmed_at is the zero time, before 1970) may be
	// replaced, a confirmed one may not: of two enrolments racing, one wins.
	res, err := s.w.ExecContext(ctx, mfaRecord.insertSQL+` ON CONFLICT (user_id) DO UPDATE SET
		secret = excluded.secret, confirmed_at = excluded.confirmed_at, recovery_codes = excluded.recovery_codes,
		created_at = excluded.created_at, updated_at = excluded.updated_at
		WHERE mfa.confirmed_at < 0`, args...)
	if err != nil {
		return wrap("put second factor", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrap("put second factor", err)
	} else if n == 0 {
		return fmt.Errorf("put second factor of user %s: a confirmed one exists: %w", m.UserID, store.ErrConflict)
	}
	return nil
}

// GetMFA returns the user's second factor.
func (s *Store) GetMFA(ctx context.Context, userID string) (store.MFA, error) {
	m, err := mfaRecord.get(ctx, s.r, `user_id = ?`, userID)
	return m, wrap("get second factor", err)
}

// UpdateMFA runs update on the user's second factor in one transaction;
// update must not call the Store's write methods.
func (s *Store) UpdateMFA(ctx context.Context, userID string, update func(store.MFA) (store.MFA, error)) (store.MFA, error) {
	return mfaRecord.update(ctx, s, userID, update)
}

// DeleteMFA removes the user's second factor.
func (s *Store) DeleteMFA(ctx context.Context, userID string) error {
	return mfaRecord.delete(ctx, s, userID)
}

var passkeyRecord = newRecord(sqltable.Passkeys, "created_at, id")

// CreatePasskey stores p; ErrConflict if its ID is taken.
func (s *Store) CreatePasskey(ctx context.Context, p store.Passkey) error {
	return passkeyRecord.create(ctx, s, p)
}

// ListPasskeys returns the user's passkeys, oldest first.
func (s *Store) ListPasskeys(ctx context.Context, userID string) ([]store.Passkey, error) {
	return passkeyRecord.list(ctx, s, "list passkeys", `WHERE user_id = ?`, "", userID)
}

// UpdatePasskey runs update on a passkey in one transaction; update must
// not call the Store's write methods.
func (s *Store) UpdatePasskey(ctx context.Context, id string, update func(store.Passkey) (store.Passkey, error)) (store.Passkey, error) {
	return passkeyRecord.update(ctx, s, id, store.SameOwner(update))
}

// DeletePasskey removes the user's passkey with that ID.
func (s *Store) DeletePasskey(ctx context.Context, userID, id string) error {
	n, err := s.exec(ctx, `DELETE FROM passkeys WHERE id = ? AND user_id = ?`, id, userID)
	return notFoundIfNone("delete passkey", n, err)
}

// DeleteUserPasskeys removes every passkey of the user.
func (s *Store) DeleteUserPasskeys(ctx context.Context, userID string) (int, error) {
	n, err := s.exec(ctx, `DELETE FROM passkeys WHERE user_id = ?`, userID)
	return int(n), wrap("delete user passkeys", err)
}

var tokenRecord = newRecord(sqltable.Tokens, "created_at DESC, id")

// CreateToken stores t after removing expired tokens.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	if _, err := s.exec(ctx, `DELETE FROM user_tokens WHERE expires_at <= ?`, micros(s.nowUTC())); err != nil {
		return wrap("prune tokens", err)
	}
	return tokenRecord.create(ctx, s, t)
}

// GetToken returns the token with that ID, expired or not.
func (s *Store) GetToken(ctx context.Context, id string) (store.Token, error) {
	t, err := tokenRecord.get(ctx, s.r, `id = ?`, id)
	return t, wrap("get token", err)
}

// errExpired rolls back ConsumeToken of an expired token.
var errExpired = errors.New("expired")

// ConsumeToken removes the token and the user's other tokens; the writer
// connection serialises concurrent callers.
func (s *Store) ConsumeToken(ctx context.Context, id string, now time.Time) (store.Token, error) {
	var out store.Token
	err := s.write(ctx, func(tx *txn) error {
		t, err := tokenRecord.get(ctx, tx, `id = ?`, id)
		if err != nil {
			return err
		}
		if !now.UTC().Truncate(time.Microsecond).Before(t.ExpiresAt) {
			return errExpired
		}
		out = t
		_, err = tx.ExecContext(ctx, `DELETE FROM user_tokens WHERE user_id = ?`, t.UserID)
		return err
	})
	if errors.Is(err, errExpired) {
		return store.Token{}, fmt.Errorf("consume token: expired: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Token{}, wrap("consume token", err)
	}
	return out, nil
}
