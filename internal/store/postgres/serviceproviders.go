package postgres

import (
	"context"
	"strings"

	"github.com/flexidp/flexidp/internal/store/sqltable"

	"github.com/jackc/pgx/v5"

	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
)

var spRecord = newRecord(sqltable.ServiceProviders, `name COLLATE "C"`)

// CreateServiceProvider implements store.Store.
func (s *Store) CreateServiceProvider(ctx context.Context, p sp.ServiceProvider) error {
	return spRecord.create(ctx, s, p)
}

// GetServiceProvider implements store.Store.
func (s *Store) GetServiceProvider(ctx context.Context, name string) (sp.ServiceProvider, error) {
	p, err := spRecord.get(ctx, s.pool, "name = $1", name)
	return p, wrap("get service provider", err)
}

// GetServiceProviderByEntityID implements store.Store.
func (s *Store) GetServiceProviderByEntityID(ctx context.Context, entityID string) (sp.ServiceProvider, error) {
	p, err := spRecord.get(ctx, s.pool, "entity_id = $1", entityID)
	return p, wrap("get service provider by entity ID", err)
}

// ListServiceProviders implements store.Store.
func (s *Store) ListServiceProviders(ctx context.Context) ([]sp.ServiceProvider, error) {
	return spRecord.list(ctx, s, "list service providers", "", "")
}

// UpdateServiceProvider implements store.Store.
func (s *Store) UpdateServiceProvider(ctx context.Context, name string, update func(sp.ServiceProvider) (sp.ServiceProvider, error)) (sp.ServiceProvider, error) {
	return spRecord.update(ctx, s, name, update)
}

// DeleteServiceProvider implements store.Store. Assignments go with the SP
// (ON DELETE CASCADE).
func (s *Store) DeleteServiceProvider(ctx context.Context, name string) error {
	return spRecord.delete(ctx, s, name)
}

// AssignUser implements store.Store. A missing user or SP violates a
// foreign key, which wrap reports as ErrNotFound.
func (s *Store) AssignUser(ctx context.Context, userID, spName string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO sp_assignments (user_id, sp_name) VALUES ($1, $2)
		ON CONFLICT (user_id, sp_name) DO NOTHING`, userID, spName)
	return wrap("assign user", err)
}

// UnassignUser implements store.Store.
func (s *Store) UnassignUser(ctx context.Context, userID, spName string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sp_assignments WHERE user_id = $1 AND sp_name = $2`, userID, spName)
	return affected("unassign user", tag, err)
}

// Assignments implements store.Store.
func (s *Store) Assignments(ctx context.Context, userID string) ([]string, error) {
	rows, _ := s.pool.Query(ctx, `SELECT sp_name FROM sp_assignments WHERE user_id = $1 ORDER BY sp_name COLLATE "C"`, userID)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap("list assignments", err)
	}
	return names, nil
}

// spVersionSQL reads an SP with its version (migration 015).
var spVersionSQL = strings.Replace(spRecord.selectSQL, " FROM ", ", version FROM ", 1)

// GetServiceProviderVersion implements store.Store.
func (s *Store) GetServiceProviderVersion(ctx context.Context, ref store.SPRef) (sp.ServiceProvider, int64, error) {
	where, key := "name = $1", ref.Name
	if ref.Name == "" {
		where, key = "entity_id = $1", ref.EntityID
	}
	rows, _ := s.pool.Query(ctx, spVersionSQL+" WHERE "+where, key)
	var version int64
	p, err := pgx.CollectExactlyOneRow(rows, func(row pgx.CollectableRow) (sp.ServiceProvider, error) {
		return spRecord.read(func(dest ...any) error { return row.Scan(append(dest, &version)...) })
	})
	if err != nil {
		return sp.ServiceProvider{}, 0, wrap("get service provider", err)
	}
	return p, version, nil
}

// Assignees implements store.Store.
func (s *Store) Assignees(ctx context.Context, spName string, limit int) ([]string, error) {
	q, args := `SELECT user_id FROM sp_assignments WHERE sp_name = $1 ORDER BY user_id COLLATE "C"`, []any{spName}
	if limit > 0 {
		q, args = q+` LIMIT $2`, append(args, limit)
	}
	rows, _ := s.pool.Query(ctx, q, args...)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap("list assignees", err)
	}
	return ids, nil
}
