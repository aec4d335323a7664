package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/store/sqltable"

	"github.com/jackc/pgx/v5"
)

// querier is what the pool and a transaction have in common.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// record maps one kind of record to its table (sqltable describes it for
// both backends), so that create, get, list, update and delete are written
// once for users, service providers, sessions, keys, second factors and
// tokens.
type record[T any] struct {
	sqltable.Table[T]
	order string // ORDER BY of lists
	// guard, when set, runs in the transaction of update (next: the new
	// value) and delete (next: nil) before it commits; its error, which
	// callers see wrapped, rolls the change back.
	guard func(ctx context.Context, tx pgx.Tx, old T, next *T) error

	selectSQL, insertSQL, updateSQL string
}

func newRecord[T any](t sqltable.Table[T], order string) *record[T] {
	r := &record[T]{Table: t, order: order}
	cols := strings.Join(r.Cols, ", ")
	params := make([]string, len(r.Cols))
	for i := range params {
		params[i] = "$" + strconv.Itoa(i+1)
	}
	r.selectSQL = "SELECT " + cols + " FROM " + r.Name
	r.insertSQL = "INSERT INTO " + r.Name + " (" + cols + ") VALUES (" + strings.Join(params, ", ") + ")"
	r.updateSQL = "UPDATE " + r.Name + " SET (" + strings.Join(r.Cols[1:], ", ") + ") = (" +
		strings.Join(params[1:], ", ") + ") WHERE " + r.Cols[0] + " = $1 RETURNING " + cols
	return r
}

// args returns v's column values in Cols order, as PostgreSQL keeps them:
// times as timestamptz (whole microseconds), lists as text[], JSON as
// jsonb.
func (r *record[T]) args(v *T) ([]any, error) {
	return r.Args(v, func(col string, f sqltable.Field) (any, error) {
		switch p := f.Ptr.(type) {
		case *time.Time:
			return ts(*p), nil
		case *[]string:
			return sqltable.OrEmpty(*p), nil
		case *[]byte:
			return sqltable.OrEmpty(*p), nil
		}
		b, err := json.Marshal(f.Ptr)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", col, err)
		}
		return b, nil
	})
}

// scan reads one row selected with Cols.
func (r *record[T]) scan(row pgx.CollectableRow) (T, error) { return r.read(row.Scan) }

// read reads a record with scan, which fills the destinations of Cols:
// a row that holds more (a join) scans them all at once
// (sqltable.ReadJoined).
func (r *record[T]) read(scan func(dest ...any) error) (T, error) {
	return r.Read(scan, r.decoder)
}

// eachRow runs query on q and calls fn for every row (which may scan it
// more than once: sqltable.Union).
func eachRow(ctx context.Context, q querier, query string, args []any, fn func(pgx.Rows) error) error {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// skip is the destination pgx skips a column with, for sqltable.Union.
func skip() any { return nil }

// pgType casts the NULLs that stand for a field in the other parts of a
// sqltable.Union, so that the branches' column types match.
func pgType(f sqltable.Field) string {
	switch f.Kind {
	case sqltable.Time:
		return "::timestamptz"
	case sqltable.List:
		return "::text[]"
	case sqltable.Bytes:
		return "::bytea"
	case sqltable.JSON:
		return "::jsonb"
	}
	switch sqltable.ValueKind(f) {
	case reflect.String:
		return "::text"
	case reflect.Bool:
		return "::boolean"
	}
	return "::bigint"
}

// decoder reads the columns as PostgreSQL keeps them: pgx reads times,
// text[] and bytea in place; JSON is decoded.
func (r *record[T]) decoder(col string, f sqltable.Field) (any, func() error) {
	if f.Kind != sqltable.JSON {
		return f.Ptr, nil
	}
	var b []byte
	return &b, func() error {
		if err := json.Unmarshal(b, f.Ptr); err != nil {
			return fmt.Errorf("decode %s: %w", col, err)
		}
		return nil
	}
}

// create inserts v, stamping its zero CreatedAt (and UpdatedAt) with now.
func (r *record[T]) create(ctx context.Context, s *Store, v T) error {
	now := s.stamp()
	for _, stamp := range []func(*T) *time.Time{r.Created, r.Updated} {
		if stamp != nil && stamp(&v).IsZero() {
			*stamp(&v) = now
		}
	}
	args, err := r.args(&v)
	if err == nil {
		_, err = s.pool.Exec(ctx, r.insertSQL, args...)
	}
	return wrap("create "+r.Noun, err)
}

// get returns the one record matching where; callers wrap its error.
func (r *record[T]) get(ctx context.Context, q querier, where string, args ...any) (T, error) {
	rows, _ := q.Query(ctx, r.selectSQL+" WHERE "+where, args...)
	return pgx.CollectExactlyOneRow(rows, r.scan)
}

// list returns the records matching where (a "WHERE ..." clause or ""),
// in order, followed by tail ("LIMIT $2" or "").
func (r *record[T]) list(ctx context.Context, s *Store, op, where, tail string, args ...any) ([]T, error) {
	rows, _ := s.pool.Query(ctx, r.selectSQL+" "+where+" ORDER BY "+r.order+" "+tail, args...)
	out, err := pgx.CollectRows(rows, r.scan)
	if err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}

// updaterError carries the caller's updater error through the transaction,
// so that it is returned as is.
type updaterError struct{ err error }

func (e updaterError) Error() string { return e.err.Error() }

// update is the read-modify-write of UpdateUser and UpdateServiceProvider:
// the row is locked (SELECT ... FOR UPDATE) while fn runs, so concurrent
// updates apply one after the other.
func (r *record[T]) update(ctx context.Context, s *Store, key string, fn func(T) (T, error)) (T, error) {
	var out T
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		old, err := r.get(ctx, tx, r.Cols[0]+" = $1 FOR UPDATE", key)
		if err != nil {
			return err
		}
		v, err := fn(old)
		if err != nil {
			return updaterError{err}
		}
		if got := *r.Key(&v); got != key {
			return fmt.Errorf("the update changed the %s from %q to %q", r.Cols[0], key, got)
		}
		*r.Created(&v) = *r.Created(&old)
		*r.Updated(&v) = s.stamp()
		if r.guard != nil {
			if err := r.guard(ctx, tx, old, &v); err != nil {
				return err
			}
		}
		args, err := r.args(&v)
		if err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, r.updateSQL, args...)
		out, err = pgx.CollectExactlyOneRow(rows, r.scan)
		return err
	})
	if ue := (updaterError{}); errors.As(err, &ue) {
		return out, ue.err
	}
	return out, wrap(fmt.Sprintf("update %s %q", r.Noun, key), err)
}

// delete removes the record with that key; ErrNotFound if there was none.
func (r *record[T]) delete(ctx context.Context, s *Store, key string) error {
	if r.guard != nil {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			rows, _ := tx.Query(ctx, "DELETE FROM "+r.Name+" WHERE "+r.Cols[0]+" = $1 RETURNING "+strings.Join(r.Cols, ", "), key)
			old, err := pgx.CollectExactlyOneRow(rows, r.scan)
			if err != nil {
				return err
			}
			return r.guard(ctx, tx, old, nil)
		})
		return wrap("delete "+r.Noun, err)
	}
	tag, err := s.pool.Exec(ctx, "DELETE FROM "+r.Name+" WHERE "+r.Cols[0]+" = $1", key)
	return affected("delete "+r.Noun, tag, err)
}
