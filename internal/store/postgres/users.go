package postgres

import (
	"context"

	"github.com/flexidp/flexidp/internal/store/sqltable"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

var userRecord = newRecord(sqltable.Users, `lower(email COLLATE "und-x-icu") COLLATE "C", id`) // COLLATE "C": the same order whatever the database's locale

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

// ListUsers implements store.Store.
func (s *Store) ListUsers(ctx context.Context, f store.UserFilter) ([]users.User, error) {
	var limit *int // NULL: no limit
	if f.Limit > 0 {
		limit = &f.Limit
	}
	// strpos, not LIKE, so that % and _ in the query match themselves.
	return userRecord.list(ctx, s, "list users",
		`WHERE $1 = '' OR strpos(lower(email COLLATE "und-x-icu"), lower($1 COLLATE "und-x-icu")) > 0 OR strpos(lower(full_name COLLATE "und-x-icu"), lower($1 COLLATE "und-x-icu")) > 0`,
		"LIMIT $2", f.Query, limit)
}

// UpdateUser implements store.Store.
func (s *Store) UpdateUser(ctx context.Context, id string, update func(users.User) (users.User, error)) (users.User, error) {
	return userRecord.update(ctx, s, id, update)
}

// DeleteUser implements store.Store. Sessions and assignments go with the
// user (ON DELETE CASCADE).
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return userRecord.delete(ctx, s, id)
}
