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

// RecordVisit writes v in one transaction of the writer, which it shares
// with the visits waiting for the writer at the same moment (group): the
// replay record first, and nothing else when it is in use. An SSO Response's
// commit is its replay record (with the checks of the SP's version and,
// for a session kept in memory, its stamp in the same statement) and its
// audit row, each one statement: the statements an
// SSO runs, not the SP check, cost it the CPU (BenchmarkRecordVisit).
func (s *Store) RecordVisit(ctx context.Context, v store.Visit) error {
	now := s.nowUTC()
	return s.writeGrouped(func(tx *txn) error {
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
			tx.queueAudit(e) // written with the group's others, before the commit
		}
		return nil
	})
}

// consumeVisit records v.Once, in one statement with the checks that
// v.SP and v.Session (when set) are still as read (asRead): ErrConflict
// when the record is in use, ErrChanged when the SP or the session
// changed or went (told apart only then).
func consumeVisit(ctx context.Context, tx *txn, v store.Visit, now int64) error {
	var sp, sess int
	if v.SP != nil {
		sp = 1
	}
	if v.Session != nil {
		sess = 1
	}
	args := []any{v.Once.Key, micros(v.Once.ExpiresAt)}
	for _, c := range asReadOf(v) {
		args = append(args, c.args...)
	}
	res, err := tx.ExecContext(ctx, consumeSQL[sp][sess], append(args, now)...)
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

// What a visit may be built from, each as read: an SP at its version, a
// session at its stamp (store.Visit.SP, .Session).
const (
	spAsRead      = `EXISTS (SELECT 1 FROM service_providers WHERE name = ? AND version = ?)`
	sessionAsRead = `EXISTS (SELECT 1 FROM sessions WHERE id = ? AND stamp = ?)`
)

// asRead is one check that what a visit was built from is still as read.
type asRead struct {
	exists string // spAsRead or sessionAsRead
	args   []any
	what   string // what changed, for the error
}

// asReadOf lists v's checks: its SP's version, then its session's stamp.
func asReadOf(v store.Visit) []asRead {
	var cs []asRead
	if v.SP != nil {
		cs = append(cs, asRead{spAsRead, []any{v.SP.Name, v.SP.Version}, fmt.Sprintf("service provider %q", v.SP.Name)})
	}
	if v.Session != nil {
		cs = append(cs, asRead{sessionAsRead, []any{v.Session.ID, v.Session.Stamp}, "the session changed or ended"})
	}
	return cs
}

// consumeSQL is consumeVisit's statement, by whether it checks an SP
// ([1][…]) and a session ([…][1]); built once, not per Response. The
// WHERE of the SELECT also keeps SQLite from reading ON CONFLICT as a
// join's ON.
var consumeSQL = func() (q [2][2]string) {
	for sp := range 2 {
		for sess := range 2 {
			where := []string{"true"}
			if sp == 1 {
				where = append(where, spAsRead)
			}
			if sess == 1 {
				where = append(where, sessionAsRead)
			}
			q[sp][sess] = `INSERT INTO consumed_ids (key, expires_at)
		SELECT ?, ? WHERE ` + strings.Join(where, " AND ") + `
		ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
		WHERE consumed_ids.expires_at <= ?`
		}
	}
	return q
}()

// current returns ErrChanged when v.SP or v.Session (when set) is no
// longer as read.
func current(ctx context.Context, tx *txn, v store.Visit) error {
	for _, c := range asReadOf(v) {
		var ok bool
		if err := tx.QueryRowContext(ctx, `SELECT `+c.exists, c.args...).Scan(&ok); err != nil {
			return wrap("record visit", err)
		}
		if !ok {
			return fmt.Errorf("record visit: %s: %w", c.what, store.ErrChanged)
		}
	}
	return nil
}
