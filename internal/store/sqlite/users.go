package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/flexidp/flexidp/internal/store/sqltable"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

var userRecord = (&record[users.User]{Table: sqltable.Users, order: "email_key, id",
	derived: []string{"email_key", "full_name_key"},
	derive:  func(u *users.User) []any { return []any{emailKey(u.Email), strings.ToLower(u.FullName)} },
	guard:   keepAnOwner,
}).init()

// keepAnOwner is the users' record guard: store.ErrLastOwner if the change
// of old into next (nil: deleting it) would leave no enabled console
// owner. It runs in the IMMEDIATE transaction of the change, which holds
// the database's write lock from its start: no other connection or
// process writes between this count and the change.
func keepAnOwner(ctx context.Context, tx *txn, old users.User, next *users.User) error {
	if !store.RemovesOwner(old, next) {
		return nil
	}
	var others bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE console_role = ? AND NOT disabled AND id <> ?)`,
		string(users.ConsoleOwner), old.ID).Scan(&others); err != nil {
		return fmt.Errorf("count console owners: %w", err)
	}
	if !others {
		return fmt.Errorf("%s: %w", old.Email, store.ErrLastOwner)
	}
	return nil
}

// emailKey is the column that makes emails unique case-insensitively. It is
// computed in Go because SQLite's lower() folds ASCII only.
func emailKey(email string) string { return strings.ToLower(email) }

// CreateUser stores a new user; zero CreatedAt and UpdatedAt are set to now.
func (s *Store) CreateUser(ctx context.Context, u users.User) error {
	return userRecord.create(ctx, s, u)
}

// GetUser returns the user with that ID.
func (s *Store) GetUser(ctx context.Context, id string) (users.User, error) {
	u, err := userRecord.get(ctx, s.r, `id = ?`, id)
	return u, wrap("get user", err)
}

// GetUserByEmail finds a user by email, case-insensitively.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (users.User, error) {
	u, err := userRecord.get(ctx, s.r, `email_key = ?`, emailKey(email))
	return u, wrap("get user by email", err)
}

// ListUsers returns the users that match f, ordered by lower-cased email
// then ID, after f.After. The order and the keyset condition follow
// users_search (migration 010).
func (s *Store) ListUsers(ctx context.Context, f store.UserFilter) ([]users.User, error) {
	where, args, err := userWhere(f, true)
	if err != nil {
		return nil, wrap("list users", err)
	}
	tail := ""
	if f.Limit > 0 {
		tail = `LIMIT ?`
		args = append(args, f.Limit)
	}
	// INDEXED BY: users_search tests every condition without reading a
	// row, and yields the order. The planner otherwise prefers the unique
	// index on email_key (it gives the order too) and reads every row it
	// tests: a search that matches few users took twice as long.
	return userRecord.list(ctx, s, "list users", "INDEXED BY users_search "+where, tail, args...)
}

// CountUsers returns how many users match f (ignoring After and Limit).
func (s *Store) CountUsers(ctx context.Context, f store.UserFilter) (int, error) {
	where, args, err := userWhere(f, false)
	var n int
	if err == nil {
		err = s.r.QueryRowContext(ctx, `SELECT count(*) FROM users `+where, args...).Scan(&n)
	}
	return n, wrap("count users", err)
}

// userWhere is the WHERE clause (or "") of f, with its arguments; paging
// adds the keyset condition of f.After.
func userWhere(f store.UserFilter, paging bool) (string, []any, error) {
	var conds []string
	var args []any
	if f.Query != "" {
		// instr, unlike LIKE, has no wildcards to escape; both sides are
		// lower-cased in Go.
		q := strings.ToLower(f.Query)
		conds = append(conds, `(instr(email_key, ?) > 0 OR instr(full_name_key, ?) > 0)`)
		args = append(args, q, q)
	}
	if f.Role != "" {
		// roles is a JSON array of strings written by encodeJSON, so the
		// role encoded the same way ("agent", with its quotes) is in the
		// text if the role is in the array. The converse holds when the
		// text has no backslash-quote: every quote is then a delimiter, and
		// a match is a whole element. Otherwise json_each decides.
		enc, err := encodeJSON("roles", f.Role)
		if err != nil {
			return "", nil, err
		}
		conds = append(conds, `instr(roles, ?) > 0 AND (instr(roles, '\"') = 0 OR EXISTS (SELECT 1 FROM json_each(users.roles) WHERE json_each.value = ?))`)
		args = append(args, enc, f.Role)
	}
	if f.NoRole {
		// Written as [] (sqltable.OrEmpty); "null" or "" by nothing today.
		conds = append(conds, `roles IN ('[]', 'null', '')`)
	}
	if f.Team != "" {
		conds = append(conds, `team = ?`)
		args = append(args, f.Team)
	}
	if f.Disabled != nil {
		conds = append(conds, `disabled = ?`)
		args = append(args, *f.Disabled)
	}
	if f.ExternalID != "" {
		conds = append(conds, `external_id = ?`)
		args = append(args, f.ExternalID)
	}
	if paging && !f.After.IsZero() {
		conds = append(conds, `(email_key, id) > (?, ?)`)
		args = append(args, emailKey(f.After.Email), f.After.ID)
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return "WHERE " + strings.Join(conds, " AND "), args, nil
}

// UpdateUser runs update on the current user and stores the result, in one
// transaction. update must not change the ID, and must not call the
// Store's write methods: the transaction holds the store's only writing
// connection.
func (s *Store) UpdateUser(ctx context.Context, id string, update func(users.User) (users.User, error)) (users.User, error) {
	return userRecord.update(ctx, s, id, update)
}

// DeleteUser removes the user; its sessions and SP assignments go with it
// (ON DELETE CASCADE). The check that an enabled owner remains is in the
// same transaction.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return userRecord.delete(ctx, s, id)
}
