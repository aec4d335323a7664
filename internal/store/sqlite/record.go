package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// record maps one kind of record to its table, so that create, get, list,
// update and delete are written once for users, service providers,
// sessions and signing keys.
type record[T any] struct {
	noun  string   // in messages: "user"
	table string   // "users"
	cols  []string // read and written; cols[0] is the primary key
	// derived are written after cols but never read: lookup keys computed
	// from the record (lower-cased email, ...).
	derived []string
	order   string // ORDER BY of lists
	// args returns v's values for cols, then derived.
	args func(v *T) ([]any, error)
	// scan reads one row selected with cols.
	scan func(scanner) (T, error)
	// key, created and updated point into v; updated may be nil.
	key              func(v *T) *string
	created, updated func(v *T) *time.Time

	selectSQL, insertSQL, updateSQL string
}

func (r *record[T]) init() *record[T] {
	written := append(r.cols[:len(r.cols):len(r.cols)], r.derived...)
	r.selectSQL = `SELECT ` + strings.Join(r.cols, ", ") + ` FROM ` + r.table
	r.insertSQL = `INSERT INTO ` + r.table + ` (` + strings.Join(written, ", ") + `) VALUES (` +
		strings.TrimSuffix(strings.Repeat("?, ", len(written)), ", ") + `)`
	// The key is the last argument.
	r.updateSQL = `UPDATE ` + r.table + ` SET ` + strings.Join(written, " = ?, ") + ` = ? WHERE ` + r.cols[0] + ` = ?`
	return r
}

// create inserts v, stamping its zero CreatedAt (and UpdatedAt) with now.
func (r *record[T]) create(ctx context.Context, s *Store, v T) error {
	now := s.nowUTC()
	for _, stamp := range []func(*T) *time.Time{r.created, r.updated} {
		if stamp != nil && stamp(&v).IsZero() {
			*stamp(&v) = now
		}
	}
	args, err := r.args(&v)
	if err == nil {
		_, err = s.w.ExecContext(ctx, r.insertSQL, args...)
	}
	return wrap("create "+r.noun, err)
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
	op := fmt.Sprintf("update %s %q", r.noun, key)
	where := r.cols[0] + ` = ?`
	err := s.write(ctx, func(tx *sql.Tx) error {
		old, err := r.get(ctx, tx, where, key)
		if err != nil {
			return wrap(op, err)
		}
		v, err := fn(old)
		if err != nil {
			return err
		}
		if got := *r.key(&v); got != key {
			return fmt.Errorf("%s: the update changed the %s to %q", op, r.cols[0], got)
		}
		*r.created(&v) = *r.created(&old)
		*r.updated(&v) = s.nowUTC()
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
	n, err := s.exec(ctx, `DELETE FROM `+r.table+` WHERE `+r.cols[0]+` = ?`, key)
	return notFoundIfNone("delete "+r.noun, n, err)
}
