package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// querier is what the pool and a transaction have in common.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// record maps one kind of record to its table, so that create, get, list,
// update and delete are written once for users, service providers,
// sessions and signing keys.
type record[T any] struct {
	noun  string   // in error messages: "user"
	table string   // "users"
	cols  []string // cols[0] is the primary key
	order string   // ORDER BY of lists
	// args returns v's column values in cols order, normalized for storage.
	args func(v *T) ([]any, error)
	// scan reads one row selected with cols.
	scan func(pgx.CollectableRow) (T, error)
	// key, created and updated point into v; updated may be nil.
	key              func(v *T) *string
	created, updated func(v *T) *time.Time

	selectSQL, insertSQL, updateSQL string
}

func (r *record[T]) init() *record[T] {
	cols := strings.Join(r.cols, ", ")
	params := make([]string, len(r.cols))
	for i := range params {
		params[i] = "$" + strconv.Itoa(i+1)
	}
	r.selectSQL = "SELECT " + cols + " FROM " + r.table
	r.insertSQL = "INSERT INTO " + r.table + " (" + cols + ") VALUES (" + strings.Join(params, ", ") + ")"
	r.updateSQL = "UPDATE " + r.table + " SET (" + strings.Join(r.cols[1:], ", ") + ") = (" +
		strings.Join(params[1:], ", ") + ") WHERE " + r.cols[0] + " = $1 RETURNING " + cols
	return r
}

// create inserts v, stamping its zero CreatedAt (and UpdatedAt) with now.
func (r *record[T]) create(ctx context.Context, s *Store, v T) error {
	now := s.stamp()
	for _, stamp := range []func(*T) *time.Time{r.created, r.updated} {
		if stamp != nil && stamp(&v).IsZero() {
			*stamp(&v) = now
		}
	}
	args, err := r.args(&v)
	if err == nil {
		_, err = s.pool.Exec(ctx, r.insertSQL, args...)
	}
	return wrap("create "+r.noun, err)
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
		old, err := r.get(ctx, tx, r.cols[0]+" = $1 FOR UPDATE", key)
		if err != nil {
			return err
		}
		v, err := fn(old)
		if err != nil {
			return updaterError{err}
		}
		if got := *r.key(&v); got != key {
			return fmt.Errorf("the update changed the %s from %q to %q", r.cols[0], key, got)
		}
		*r.created(&v) = *r.created(&old)
		*r.updated(&v) = s.stamp()
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
	return out, wrap(fmt.Sprintf("update %s %q", r.noun, key), err)
}

// delete removes the record with that key; ErrNotFound if there was none.
func (r *record[T]) delete(ctx context.Context, s *Store, key string) error {
	tag, err := s.pool.Exec(ctx, "DELETE FROM "+r.table+" WHERE "+r.cols[0]+" = $1", key)
	return affected("delete "+r.noun, tag, err)
}
