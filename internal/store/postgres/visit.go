package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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
		Nulls: slices.Concat(sessionRecord.Nulls(pgType), userRecord.Nulls(pgType), []string{"NULL::bigint"}),
		From:  "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1",
	},
	groupsOfSession,
)

// groupsOfSession is the union part of the groups of session $1's user.
var groupsOfSession = sqltable.Part{
	Cols:  sqltable.QualifiedCols("g", groupRecord.Cols),
	Nulls: groupRecord.Nulls(pgType),
	From:  "FROM sessions s JOIN group_members m ON m.user_id = s.user_id JOIN groups g ON g.id = m.group_id WHERE s.id = $1",
	Order: `lower(g.name COLLATE "und-x-icu") COLLATE "C", g.id`,
}

// GetSessionUser implements store.Store in one statement (sessionUser).
func (s *Store) GetSessionUser(ctx context.Context, id string) (store.Session, users.User, []users.Group, error) {
	var su sqltable.SessionUser
	err := eachRow(ctx, s.pool, sessionUser.SQL, []any{id}, func(rows pgx.Rows) error {
		return sessionUser.AddSessionUser(&su, rows.Scan, skip, sessionUserReaders)
	})
	if err == nil && !su.Found {
		err = pgx.ErrNoRows
	}
	if err != nil {
		return store.Session{}, users.User{}, nil, wrap("get session and user", err)
	}
	return su.Session, su.User, su.Groups, nil
}

// sessionUserReaders read the records of the session-and-user union.
var sessionUserReaders = sqltable.SessionUserReaders{Session: sessionRecord.read, User: userRecord.read, Group: groupRecord.read}

// visitSQL is RecordVisit's one statement. The SP's version (current)
// and the replay record decide (go): when the SP changed or the record is
// in use, no other part writes and the statement says which. Data-modifying
// CTEs all run, each under the same condition, and commit together.
// Parameters: $1 once key (empty for none), $2 its expiry, $3 now; $4
// session to end; then the session to start, one per column of
// sessionRecord (its ID empty for none); then the session to touch and
// when; the audit events as arrays, in order; the SP's name (empty for
// none) and its version; the session's ID (empty for none) and its stamp:
// current is whether both are still what the visit was built from.
var visitSQL = func() string {
	n := 4
	next := func() string { n++; return fmt.Sprintf("$%d", n) }
	var zero store.Session
	start := make([]string, len(sessionRecord.Cols))
	for i, f := range sqltable.Sessions.Fields(&zero) {
		cast := "::text"
		if f.Kind == sqltable.Time {
			cast = "::timestamptz"
		}
		start[i] = next() + cast
	}
	touch, touchAt := next(), next()
	audit := make([]string, 9)
	for i := range audit {
		audit[i] = next() + "::text[]"
	}
	audit[0] = strings.Replace(audit[0], "text[]", "timestamptz[]", 1)
	spName, spVersion := next(), next()
	sessID, sessStamp := next(), next()
	return `WITH current AS (
	SELECT (` + spName + `::text = '' OR EXISTS (SELECT FROM service_providers WHERE name = ` + spName + ` AND version = ` + spVersion + `::bigint))
		AND (` + sessID + `::text = '' OR EXISTS (SELECT FROM sessions WHERE id = ` + sessID + ` AND stamp = ` + sessStamp + `::bigint)) AS sp
), once AS (
	INSERT INTO consumed_ids (key, expires_at) SELECT $1::text, $2::timestamptz WHERE $1 <> '' AND (SELECT sp FROM current)
	ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE consumed_ids.expires_at <= $3::timestamptz
	RETURNING 1
), ok AS (
	SELECT (SELECT sp FROM current) AND ($1::text = '' OR EXISTS (SELECT FROM once)) AS go
), ended AS (
	DELETE FROM sessions WHERE $4::text <> '' AND id = $4 AND (SELECT go FROM ok)
), started AS (
	INSERT INTO sessions (` + strings.Join(sessionRecord.Cols, ", ") + `)
	SELECT ` + strings.Join(start, ", ") + `
	WHERE ` + strings.TrimSuffix(start[0], "::text") + ` <> '' AND (SELECT go FROM ok)
), touched AS (
	UPDATE sessions SET last_seen_at = ` + touchAt + `::timestamptz WHERE ` + touch + `::text <> '' AND id = ` + touch + ` AND (SELECT go FROM ok)
), audited AS (
	INSERT INTO audit_events (at, action, actor, user_id, email, sp, remote_addr, reason, details)
	SELECT at, action, actor, user_id, email, sp, remote_addr, reason, details
	FROM unnest(` + strings.Join(audit, ", ") + `)
		WITH ORDINALITY AS e (at, action, actor, user_id, email, sp, remote_addr, reason, details, n)
	WHERE (SELECT go FROM ok)
	ORDER BY n
)
SELECT go, (SELECT sp FROM current) FROM ok`
}()

// RecordVisit implements store.Store in one statement (visitSQL). The
// visits that wait for it at the same moment go to the database together
// (visits, commitVisits): a group commit.
func (s *Store) RecordVisit(ctx context.Context, v store.Visit) error {
	args, err := s.visitArgs(v)
	if err != nil {
		return err
	}
	return s.visits.Do(visit{ctx: ctx, v: v, args: args}, s.commitVisits)
}

// visit is a RecordVisit waiting in the group commit: the visit and
// visitSQL's parameters for it.
type visit struct {
	ctx  context.Context
	v    store.Visit
	args []any
}

// visitArgs returns visitSQL's parameters for v.
func (s *Store) visitArgs(v store.Visit) ([]any, error) {
	now := s.stamp()
	args := make([]any, 0, 4+len(sessionRecord.Cols)+15)
	if v.Once != nil {
		args = append(args, v.Once.Key, ts(v.Once.ExpiresAt), now)
	} else {
		args = append(args, "", now, now)
	}
	args = append(args, v.EndSession)
	if v.StartSession != nil {
		sess := *v.StartSession
		if sess.CreatedAt.IsZero() {
			sess.CreatedAt = now
		}
		cols, err := sessionRecord.args(&sess)
		if err != nil {
			return nil, err
		}
		if sess.ID == "" {
			return nil, fmt.Errorf("record visit: the session to start has no ID")
		}
		args = append(args, cols...)
	} else {
		var none store.Session
		none.AuthnInstant, none.CreatedAt, none.LastSeenAt, none.ExpiresAt = now, now, now, now
		cols, err := sessionRecord.args(&none)
		if err != nil {
			return nil, err
		}
		args = append(args, cols...)
	}
	args = append(args, v.TouchSession, ts(v.TouchAt))
	n := len(v.Audit)
	at := make([]time.Time, n)
	text := make([][]string, 8)
	for i := range text {
		text[i] = make([]string, n)
	}
	for i, e := range v.Audit {
		if e.Time.IsZero() {
			e.Time = now
		}
		at[i] = ts(e.Time)
		for j, f := range []string{e.Action, e.Actor, e.UserID, e.Email, e.SP, e.RemoteAddr, e.Reason, string(e.Details)} {
			text[j][i] = f
		}
	}
	args = append(args, at)
	for _, col := range text {
		args = append(args, col)
	}
	if v.SP != nil {
		args = append(args, v.SP.Name, v.SP.Version)
	} else {
		args = append(args, "", int64(0))
	}
	if v.Session != nil {
		args = append(args, v.Session.ID, v.Session.Stamp)
	} else {
		args = append(args, "", int64(0))
	}
	return args, nil
}

// commitVisits sends the visits of a group to the database in one round
// trip, a pipeline of visitSQL that runs as one implicit transaction and
// commits once, and returns each visit's result. The statement tells
// each visit's verdict (committed, already answered, built from what
// changed) without failing; should it fail for one visit (a session ID
// taken, a deadlock with another replica's group), the transaction wrote
// nothing, and each visit is sent again alone, so that its error is its
// own. A visit, once in a group, is committed whatever its caller's
// context says: the group's context is the first visit's, without its
// cancellation.
func (s *Store) commitVisits(vs []visit) []error {
	errs := make([]error, len(vs))
	if len(vs) == 1 {
		errs[0] = s.recordVisit(vs[0])
		return errs
	}
	ctx := context.WithoutCancel(vs[0].ctx)
	// Sessions are ended and touched in one order in every group, so that
	// two replicas' groups wait for each other rather than deadlock.
	order := make([]int, len(vs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(strings.Compare(vs[a].v.TouchSession, vs[b].v.TouchSession), strings.Compare(vs[a].v.EndSession, vs[b].v.EndSession))
	})
	batch := &pgx.Batch{}
	for _, i := range order {
		batch.Queue(visitSQL, vs[i].args...)
	}
	verdicts := make([][2]bool, len(vs))
	err := func() error {
		br := s.pool.SendBatch(ctx, batch)
		for _, i := range order {
			if err := br.QueryRow().Scan(&verdicts[i][0], &verdicts[i][1]); err != nil {
				_ = br.Close()
				return err
			}
		}
		return br.Close()
	}()
	if err != nil {
		for i := range vs {
			errs[i] = s.recordVisit(vs[i])
		}
		return errs
	}
	for i := range vs {
		errs[i] = verdict(vs[i].v, verdicts[i][0], verdicts[i][1])
	}
	return errs
}

// recordVisit sends one visit alone.
func (s *Store) recordVisit(vi visit) error {
	var ok, current bool
	if err := s.pool.QueryRow(context.WithoutCancel(vi.ctx), visitSQL, vi.args...).Scan(&ok, &current); err != nil {
		return wrap("record visit", err)
	}
	return verdict(vi.v, ok, current)
}

// verdict is v's result from visitSQL's row: ok (written) and current
// (its SP and session were still as read).
func verdict(v store.Visit, ok, current bool) error {
	if !current {
		return fmt.Errorf("record visit: %w", changed(v))
	}
	if !ok {
		return fmt.Errorf("record visit: request already answered: %w", store.ErrConflict)
	}
	return nil
}

// changed is the ErrChanged of a visit whose SP or session is no longer
// what it was built from (the statement does not say which).
func changed(v store.Visit) error {
	switch {
	case v.SP != nil && v.Session != nil:
		return fmt.Errorf("service provider %q or the session changed: %w", v.SP.Name, store.ErrChanged)
	case v.SP != nil:
		return fmt.Errorf("service provider %q: %w", v.SP.Name, store.ErrChanged)
	}
	return fmt.Errorf("the session changed or ended: %w", store.ErrChanged)
}
