package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/flexidp/flexidp/internal/store/sqltable"

	"github.com/jackc/pgx/v5"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// emailOrder is the case-folded email as ListUsers orders it; COLLATE "C":
// the same order whatever the database's locale.
const emailOrder = `lower(email COLLATE "und-x-icu") COLLATE "C"`

var userRecord = func() *record[users.User] {
	r := newRecord(sqltable.Users, emailOrder+`, id`)
	r.guard = keepAnOwner
	return r
}()

// ownersLockID is the pg_advisory_xact_lock key that serializes the
// changes that take an enabled console owner away (store.RemovesOwner).
// Locking the owners' rows would not do: two transactions demoting two
// different owners lock different rows and each still sees the other's
// owner enabled. Under the lock, each counts the owners the one before it
// committed (READ COMMITTED: every statement sees the latest commits).
const ownersLockID int64 = 0x666c6578_6f776e72 // "flexownr"

// keepAnOwner is the users' record guard: store.ErrLastOwner if the change
// of old into next (nil: deleting it) would leave no enabled console
// owner.
func keepAnOwner(ctx context.Context, tx pgx.Tx, old users.User, next *users.User) error {
	if !store.RemovesOwner(old, next) {
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, ownersLockID); err != nil {
		return err
	}
	var others bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE console_role = $1 AND NOT disabled AND id <> $2)`,
		string(users.ConsoleOwner), old.ID).Scan(&others); err != nil {
		return err
	}
	if !others {
		return fmt.Errorf("%s: %w", old.Email, store.ErrLastOwner)
	}
	return nil
}

// CreateUser implements store.Store.
func (s *Store) CreateUser(ctx context.Context, u users.User) error {
	return userRecord.create(ctx, s, u)
}

// GetUser implements store.Store.
func (s *Store) GetUser(ctx context.Context, id string) (users.User, error) {
	u, err := userRecord.get(ctx, s.pool, "id = $1", id)
	return u, wrap("get user", err)
}

// GetUserByEmail implements store.Store.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (users.User, error) {
	u, err := userRecord.get(ctx, s.pool, `lower(email COLLATE "und-x-icu") = lower($1 COLLATE "und-x-icu")`, email) // users_email_lower_key
	return u, wrap("get user by email", err)
}

// ListUsers implements store.Store. The order and the keyset condition
// use users_email_order (migration 010), so a page costs the same deep in
// the list as at its start.
func (s *Store) ListUsers(ctx context.Context, f store.UserFilter) ([]users.User, error) {
	where, args := userWhere(f, true)
	tail := ""
	if f.Limit > 0 {
		args = append(args, f.Limit)
		tail = "LIMIT $" + strconv.Itoa(len(args))
	}
	return userRecord.list(ctx, s, "list users", where, tail, args...)
}

// CountUsers implements store.Store.
func (s *Store) CountUsers(ctx context.Context, f store.UserFilter) (int, error) {
	where, args := userWhere(f, false)
	var n int
	err := s.pool.QueryRow(ctx, "SELECT count(*) FROM users "+where, args...).Scan(&n)
	return n, wrap("count users", err)
}

// likeEscaper makes a string match itself in a LIKE pattern (whose
// escape character is the backslash by default).
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// userWhere is the WHERE clause (or "") of f, with its arguments; paging
// adds the keyset condition of f.After.
func userWhere(f store.UserFilter, paging bool) (string, []any) {
	var conds []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Query != "" {
		// LIKE on email_fold and full_name_fold (the columns folded on
		// write, migration 010), so that their trigram indexes (migration
		// 019) answer; % _ and \ in the query are escaped to match
		// themselves.
		q := `'%' || lower(` + arg(likeEscaper.Replace(f.Query)) + `::text COLLATE "und-x-icu") COLLATE "C" || '%'`
		conds = append(conds, `(email_fold LIKE `+q+` OR full_name_fold LIKE `+q+`)`)
	}
	if f.Role != "" {
		conds = append(conds, arg(f.Role)+`::text = ANY(roles)`)
	}
	if f.NoRole {
		conds = append(conds, `coalesce(cardinality(roles), 0) = 0`)
	}
	if f.Team != "" {
		conds = append(conds, `team = `+arg(f.Team)+`::text`)
	}
	if f.Disabled != nil {
		conds = append(conds, `disabled = `+arg(*f.Disabled)+`::boolean`)
	}
	if f.ExternalID != "" {
		conds = append(conds, `external_id = `+arg(f.ExternalID)+`::text`)
	}
	if paging && !f.After.IsZero() {
		// The same expressions as the ORDER BY, so the index serves both.
		e, id := arg(f.After.Email), arg(f.After.ID)
		conds = append(conds, `(`+emailOrder+`, id) > (lower(`+e+`::text COLLATE "und-x-icu") COLLATE "C", `+id+`::text)`)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return "WHERE " + strings.Join(conds, " AND "), args
}

// UpdateUser implements store.Store.
func (s *Store) UpdateUser(ctx context.Context, id string, update func(users.User) (users.User, error)) (users.User, error) {
	return userRecord.update(ctx, s, id, update)
}

// DeleteUser implements store.Store. Sessions and assignments go with the
// user (ON DELETE CASCADE). Deleting an enabled owner is one transaction
// with keepAnOwner's check.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return userRecord.delete(ctx, s, id)
}
