package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/sqltable"
	"github.com/flexidp/flexidp/internal/users"
)

// sessionUser is GetSessionUser's one statement: the session joined with
// its user and the session's stamp (part 0), and the user's groups in
// UserGroups' order (part 1).
var sessionUser = sqltable.NewUnion(
	sqltable.Part{
		Cols:  slices.Concat(sqltable.QualifiedCols("s", sessionRecord.Cols), sqltable.QualifiedCols("u", userRecord.Cols), []string{"s.stamp"}),
		Nulls: slices.Concat(sessionRecord.Nulls(noType), userRecord.Nulls(noType), []string{"NULL"}),
		From:  "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?1",
	},
	sqltable.Part{
		Cols:  sqltable.QualifiedCols("g", groupRecord.Cols),
		Nulls: groupRecord.Nulls(noType),
		From:  "FROM sessions s JOIN group_members m ON m.user_id = s.user_id JOIN groups g ON g.id = m.group_id WHERE s.id = ?1",
		Order: "g.name_key, g.id",
	},
)

// GetSessionUser returns the session, its user and the user's groups in
// one statement (sessionUser).
func (s *Store) GetSessionUser(ctx context.Context, id string) (store.Session, users.User, []users.Group, error) {
	var su sqltable.SessionUser
	err := eachRow(ctx, s.r, sessionUser.SQL, []any{id}, func(rows *sql.Rows) error {
		return sessionUser.AddSessionUser(&su, rows.Scan, skip, sessionUserReaders)
	})
	if err == nil && !su.Found {
		err = sql.ErrNoRows
	}
	if err != nil {
		return store.Session{}, users.User{}, nil, wrap("get session and user", err)
	}
	return su.Session, su.User, su.Groups, nil
}

// sessionUserReaders read the records of the session-and-user union.
var sessionUserReaders = sqltable.SessionUserReaders{Session: sessionRecord.read, User: userRecord.read, Group: groupRecord.read}

// RecordVisit writes v in one transaction of the writer: the replay
// record first, and nothing else when it is in use. An SSO Response's
// commit is its replay record (with the checks of the SP's version and,
// for a session kept in memory, its stamp in the same statement) and its
// audit row, each one statement: the statements an
// SSO runs, not the SP check, cost it the CPU (BenchmarkRecordVisit).
func (s *Store) RecordVisit(ctx context.Context, v store.Visit) error {
	now := s.nowUTC()
	return s.write(ctx, func(tx *txn) error {
		if v.Once != nil {
			if err := consumeVisit(ctx, tx, v, micros(now)); err != nil {
				return err
			}
			if s.prune.due(now) {
				if _, err := tx.ExecContext(ctx, `DELETE FROM consumed_ids WHERE expires_at <= ?`, micros(now)); err != nil {
					return wrap("prune consumed IDs", err)
				}
			}
		} else if err := current(ctx, tx, v); err != nil {
			return err
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
			if e.Time.IsZero() {
				e.Time = now
			}
			if _, err := tx.ExecContext(ctx, insertAuditSQL, auditArgs(e)...); err != nil {
				return wrap("append audit event", err)
			}
		}
		return nil
	})
}

// consumeVisit records v.Once, in one statement with the checks that
// v.SP and v.Session (when set) are still current: ErrConflict when the
// record is in use, ErrChanged when the SP or the session changed or went
// (told apart only then).
func consumeVisit(ctx context.Context, tx *txn, v store.Visit, now int64) error {
	args := []any{v.Once.Key, micros(v.Once.ExpiresAt)}
	var cond []string
	if v.SP != nil {
		cond = append(cond, `EXISTS (SELECT 1 FROM service_providers WHERE name = ? AND version = ?)`)
		args = append(args, v.SP.Name, v.SP.Version)
	}
	if v.Session != nil {
		cond = append(cond, `EXISTS (SELECT 1 FROM sessions WHERE id = ? AND stamp = ?)`)
		args = append(args, v.Session.ID, v.Session.Stamp)
	}
	// The WHERE of the SELECT also keeps SQLite from reading ON CONFLICT
	// as a join's ON.
	where := "true"
	if len(cond) > 0 {
		where = strings.Join(cond, " AND ")
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO consumed_ids (key, expires_at)
		SELECT ?, ? WHERE `+where+`
		ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
		WHERE consumed_ids.expires_at <= ?`, append(args, now)...)
	if err != nil {
		return wrap("record visit", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrap("record visit", err)
	} else if n > 0 {
		return nil
	}
	if err := current(ctx, tx, v); err != nil {
		return err
	}
	return fmt.Errorf("record visit: request already answered: %w", store.ErrConflict)
}

// current returns ErrChanged when v.SP or v.Session (when set) is no
// longer as read.
func current(ctx context.Context, tx *txn, v store.Visit) error {
	if v.SP != nil {
		if err := spCurrent(ctx, tx, v.SP); err != nil {
			return err
		}
	}
	if v.Session != nil {
		return sessionCurrent(ctx, tx, v.Session)
	}
	return nil
}

// spCurrent returns ErrChanged when sp is no longer the SP's version.
func spCurrent(ctx context.Context, tx *txn, sp *store.SPVersion) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM service_providers WHERE name = ? AND version = ?`,
		sp.Name, sp.Version).Scan(&n); err != nil {
		return wrap("record visit", err)
	}
	if n == 0 {
		return fmt.Errorf("record visit: service provider %q: %w", sp.Name, store.ErrChanged)
	}
	return nil
}

// sessionCurrent returns ErrChanged when sess is no longer the session's
// stamp, or the session went.
func sessionCurrent(ctx context.Context, tx *txn, sess *store.SessionVersion) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE id = ? AND stamp = ?`, sess.ID, sess.Stamp).Scan(&n); err != nil {
		return wrap("record visit", err)
	}
	if n == 0 {
		return fmt.Errorf("record visit: the session changed or ended: %w", store.ErrChanged)
	}
	return nil
}
