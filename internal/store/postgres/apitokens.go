package postgres

import (
	"context"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/sqltable"
)

var apiTokenRecord = newRecord(sqltable.APITokens, "name")

// CreateAPIToken implements store.Store.
func (s *Store) CreateAPIToken(ctx context.Context, t store.APIToken) error {
	return apiTokenRecord.create(ctx, s, t)
}

// GetAPIToken implements store.Store.
func (s *Store) GetAPIToken(ctx context.Context, id string) (store.APIToken, error) {
	t, err := apiTokenRecord.get(ctx, s.pool, "id = $1", id)
	return t, wrap("get API token", err)
}

// ListAPITokens implements store.Store.
func (s *Store) ListAPITokens(ctx context.Context) ([]store.APIToken, error) {
	return apiTokenRecord.list(ctx, s, "list API tokens", "", "")
}

// UpdateAPIToken implements store.Store.
func (s *Store) UpdateAPIToken(ctx context.Context, id string, update func(store.APIToken) (store.APIToken, error)) (store.APIToken, error) {
	return apiTokenRecord.update(ctx, s, id, update)
}
