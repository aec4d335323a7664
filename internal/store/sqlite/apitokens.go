package sqlite

import (
	"context"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/sqltable"
)

var apiTokenRecord = newRecord(sqltable.APITokens, "name")

// CreateAPIToken stores a new API token.
func (s *Store) CreateAPIToken(ctx context.Context, t store.APIToken) error {
	return apiTokenRecord.create(ctx, s, t)
}

// GetAPIToken returns the API token with that ID.
func (s *Store) GetAPIToken(ctx context.Context, id string) (store.APIToken, error) {
	t, err := apiTokenRecord.get(ctx, s.r, `id = ?`, id)
	return t, wrap("get API token", err)
}

// ListAPITokens returns every API token ordered by name.
func (s *Store) ListAPITokens(ctx context.Context) ([]store.APIToken, error) {
	return apiTokenRecord.list(ctx, s, "list API tokens", "", "")
}

// UpdateAPIToken runs update on the token in one transaction.
func (s *Store) UpdateAPIToken(ctx context.Context, id string, update func(store.APIToken) (store.APIToken, error)) (store.APIToken, error) {
	return apiTokenRecord.update(ctx, s, id, update)
}
