package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/store/sqltable"
)

// record maps one kind of record to its table (sqltable describes it for
// both backends), so that create, get, list, update and delete are written
// once for users, service providers, sessions, keys, second factors and
// tokens.
type record[T any] struct {
	sqltable.Table[T]
	order string // ORDER BY of lists
	// derived are written after Cols but never read: lookup keys computed
	// from the record (lower-cased email, ...) by derive.
	derived []string
	derive  func(v *T) []any
	// guard, when set, runs in the transaction of update (next: the new
	// value) and delete (next: nil) before the change is written; its
	// error, which callers see wrapped, rolls the change back.
	guard func(ctx context.Context, tx *txn, old T, next *T) error

	selectSQL, insertSQL, updateSQL string
}

func newRecord[T any](t sqltable.Table[T], order string) *record[T] {
	return (&record[T]{Table: t, order: order}).init()
}

func (r *record[T]) init() *record[T] {
	written := append(r.Cols[:len(r.Cols):len(r.Cols)], r.derived...)
	r.selectSQL = `SELECT ` + strings.Join(r.Cols, ", ") + ` FROM ` + r.Name
	r.insertSQL = `INSERT INTO ` + r.Name + ` (` + strings.Join(written, ", ") + `) VALUES (` +
		strings.TrimSuffix(strings.Repeat("?, ", len(written)), ", ") + `)`
	// The key is the last argument.
	r.updateSQL = `UPDATE ` + r.Name + ` SET ` + strings.Join(written, " = ?, ") + ` = ? WHERE ` + r.Cols[0] + ` = ?`
	return r
}

// args returns v's values for Cols, then derived, as SQLite keeps them:
// times as integer microseconds, lists and JSON as text.
func (r *record[T]) args(v *T) ([]any, error) {
	out, err := r.Args(v, func(col string, f sqltable.Field) (any, error) {
		switch p := f.Ptr.(type) {
		case *time.Time:
			return micros(*p), nil
		case *[]string:
			return encodeJSON(col, sqltable.OrEmpty(*p))
		case *[]byte:
			return sqltable.OrEmpty(*p), nil
		}
		return encodeJSON(col, f.Ptr)
	})
	if err == nil && r.derive != nil {
		out = append(out, r.derive(v)...)
	}
	return out, err
}

// scan reads one row selected with Cols.
func (r *record[T]) scan(sc scanner) (T, error) { return r.read(sc.Scan) }

// read reads a record with scan, which fills the destinations of Cols:
// a row that holds more (a join) scans them all at once
// (sqltable.ReadJoined).
func (r *record[T]) read(scan func(dest ...any) error) (T, error) {
	return r.Read(scan, func(col string, f sqltable.Field) (any, func() error) {
		switch f.Kind {
		case sqltable.Time:
			var us int64
			return &us, func() error { *f.Ptr.(*time.Time) = fromMicros(us); return nil }
		case sqltable.List, sqltable.JSON:
			var text string
			return &text, func() error { return decodeJSON(col, text, f.Ptr) }
		}
		return f.Ptr, nil
	})
}

// create inserts v, stamping its zero CreatedAt (and UpdatedAt) with now.
func (r *record[T]) create(ctx context.Context, s *Store, v T) error {
	now := s.nowUTC()
	for _, stamp := range []func(*T) *time.Time{r.Created, r.Updated} {
		if stamp != nil && stamp(&v).IsZero() {
			*stamp(&v) = now
		}
	}
	args, err := r.args(&v)
	if err == nil {
		_, err = s.w.ExecContext(ctx, r.insertSQL, args...)
	}
	return wrap("create "+r.Noun, err)
}

// get returns the one record matching where; callers wrap its error.
func (r *record[T]) get(ctx context.Context, q querier, where string, args ...any) (T, error) {
	return r.scan(q.QueryRowContext(ctx, r.selectSQL+` WHERE `+where, args...))
}

// list returns the records matching where (a "WHERE ..." clause or ""), in
// order, followed by tail ("LIMIT ?" or "").
func (r *record[T]) list(ctx context.Context, s *Store, op, where, tail string, args ...any) ([]T, error) {
	return collect(ctx, s, op, r.scan, r.selectSQL+` `+where+` ORDER BY `+r.order+` `+tail, args...)
}

// eachRow runs query on q and calls fn for every row.
func eachRow(ctx context.Context, q querier, query string, args []any, fn func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
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

// skip is the destination database/sql skips a column with, for
// sqltable.Union.
func skip() any { return new(any) }

// noType: SQLite needs no cast of the NULLs of a sqltable.Union.
func noType(sqltable.Field) string { return "" }

// collect runs query on the read pool and scans every row.
func collect[T any](ctx context.Context, s *Store, op string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}

// update is the read-modify-write of UpdateUser and UpdateServiceProvider.
// In one IMMEDIATE transaction it reads the record, runs fn, keeps
// CreatedAt, stamps UpdatedAt, rewrites the row and reads it back, so the
// caller gets exactly what a later get returns. fn's error is returned as
// is; fn may not change the key.
//
// The transaction holds the store's only writing connection: fn must not
// call the Store's write methods, or it waits for itself until ctx ends.
func (r *record[T]) update(ctx context.Context, s *Store, key string, fn func(T) (T, error)) (T, error) {
	var out T
	op := fmt.Sprintf("update %s %q", r.Noun, key)
	where := r.Cols[0] + ` = ?`
	err := s.write(ctx, func(tx *txn) error {
		old, err := r.get(ctx, tx, where, key)
		if err != nil {
			return wrap(op, err)
		}
		v, err := fn(old)
		if err != nil {
			return err
		}
		if got := *r.Key(&v); got != key {
			return fmt.Errorf("%s: the update changed the %s to %q", op, r.Cols[0], got)
		}
		*r.Created(&v) = *r.Created(&old)
		*r.Updated(&v) = s.nowUTC()
		if r.guard != nil {
			if err := r.guard(ctx, tx, old, &v); err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
		}
		args, err := r.args(&v)
		if err == nil {
			_, err = tx.ExecContext(ctx, r.updateSQL, append(args, key)...)
		}
		if err == nil {
			out, err = r.get(ctx, tx, where, key)
		}
		return wrap(op, err)
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// delete removes the record with that key; store.ErrNotFound if there was
// none.
func (r *record[T]) delete(ctx context.Context, s *Store, key string) error {
	if r.guard != nil {
		op, where := "delete "+r.Noun, r.Cols[0]+` = ?`
		return s.write(ctx, func(tx *txn) error {
			old, err := r.get(ctx, tx, where, key)
			if err != nil {
				return wrap(op, err)
			}
			if err := r.guard(ctx, tx, old, nil); err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
			_, err = tx.ExecContext(ctx, `DELETE FROM `+r.Name+` WHERE `+where, key)
			return wrap(op, err)
		})
	}
	n, err := s.exec(ctx, `DELETE FROM `+r.Name+` WHERE `+r.Cols[0]+` = ?`, key)
	return notFoundIfNone("delete "+r.Noun, n, err)
}
