package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

var userRecord = (&record[users.User]{
	noun:  "user",
	table: "users",
	cols: []string{"id", "email", "full_name", "given_name", "family_name", "image_url", "roles",
		"team", "program", "attributes", "password_hash", "disabled", "credential_version", "created_at", "updated_at"},
	// COLLATE "C": the same order whatever the database's locale.
	order:   `lower(email COLLATE "und-x-icu") COLLATE "C", id`,
	key:     func(u *users.User) *string { return &u.ID },
	created: func(u *users.User) *time.Time { return &u.CreatedAt },
	updated: func(u *users.User) *time.Time { return &u.UpdatedAt },
	args: func(u *users.User) ([]any, error) {
		attrs := []byte("{}")
		if len(u.Attributes) > 0 {
			var err error
			if attrs, err = json.Marshal(u.Attributes); err != nil {
				return nil, fmt.Errorf("encode attributes: %w", err)
			}
		}
		return []any{u.ID, u.Email, u.FullName, u.GivenName, u.FamilyName, u.ImageURL, orEmpty(u.Roles),
			u.Team, u.Program, attrs, u.PasswordHash, u.Disabled, u.CredentialVersion, ts(u.CreatedAt), ts(u.UpdatedAt)}, nil
	},
	scan: func(row pgx.CollectableRow) (users.User, error) {
		var u users.User
		var attrs []byte
		err := row.Scan(&u.ID, &u.Email, &u.FullName, &u.GivenName, &u.FamilyName, &u.ImageURL, &u.Roles,
			&u.Team, &u.Program, &attrs, &u.PasswordHash, &u.Disabled, &u.CredentialVersion, &u.CreatedAt, &u.UpdatedAt)
		if err != nil {
			return u, err
		}
		if err := json.Unmarshal(attrs, &u.Attributes); err != nil {
			return u, fmt.Errorf("decode attributes of user %q: %w", u.ID, err)
		}
		if len(u.Attributes) == 0 {
			u.Attributes = nil
		}
		u.Roles = nonEmpty(u.Roles)
		u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
		return u, nil
	},
}).init()

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

// orEmpty stores a nil slice as an empty array, not NULL.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
