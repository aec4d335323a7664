package sqlite

import (
	"context"
	"strings"

	"github.com/flexidp/flexidp/internal/store/sqltable"

	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
)

var spRecord = newRecord(sqltable.ServiceProviders, "name")

// CreateServiceProvider stores a new SP; zero CreatedAt and UpdatedAt are
// set to now.
func (s *Store) CreateServiceProvider(ctx context.Context, p sp.ServiceProvider) error {
	return spRecord.create(ctx, s, p)
}

// GetServiceProvider returns the SP with that name.
func (s *Store) GetServiceProvider(ctx context.Context, name string) (sp.ServiceProvider, error) {
	p, err := spRecord.get(ctx, s.r, `name = ?`, name)
	return p, wrap("get service provider", err)
}

// GetServiceProviderByEntityID returns the SP with that entity ID, compared
// exactly (SQLite's default BINARY collation).
func (s *Store) GetServiceProviderByEntityID(ctx context.Context, entityID string) (sp.ServiceProvider, error) {
	p, err := spRecord.get(ctx, s.r, `entity_id = ?`, entityID)
	return p, wrap("get service provider by entity ID", err)
}

// ListServiceProviders returns all SPs ordered by name.
func (s *Store) ListServiceProviders(ctx context.Context) ([]sp.ServiceProvider, error) {
	return spRecord.list(ctx, s, "list service providers", "", "")
}

// UpdateServiceProvider runs update on the current SP and stores the
// result, in one transaction. update must not change the name, and must
// not call the Store's write methods.
func (s *Store) UpdateServiceProvider(ctx context.Context, name string, update func(sp.ServiceProvider) (sp.ServiceProvider, error)) (sp.ServiceProvider, error) {
	return spRecord.update(ctx, s, name, update)
}

// DeleteServiceProvider removes the SP; its assignments go with it (ON
// DELETE CASCADE).
func (s *Store) DeleteServiceProvider(ctx context.Context, name string) error {
	return spRecord.delete(ctx, s, name)
}

// AssignUser lets the user enter the SP. Assigning twice is not an error; a
// missing user or SP violates a foreign key, which wrap reports as
// store.ErrNotFound.
func (s *Store) AssignUser(ctx context.Context, userID, spName string) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO sp_assignments (user_id, sp_name) VALUES (?, ?)
		ON CONFLICT (user_id, sp_name) DO NOTHING`, userID, spName)
	return wrap("assign user", err)
}

// UnassignUser removes the assignment; store.ErrNotFound if there was none.
func (s *Store) UnassignUser(ctx context.Context, userID, spName string) error {
	n, err := s.exec(ctx, `DELETE FROM sp_assignments WHERE user_id = ? AND sp_name = ?`, userID, spName)
	return notFoundIfNone("unassign user", n, err)
}

// Assignments returns the names of the SPs the user is assigned to, in
// order.
func (s *Store) Assignments(ctx context.Context, userID string) ([]string, error) {
	scan := func(sc scanner) (name string, err error) { return name, sc.Scan(&name) }
	return collect(ctx, s, "list assignments", scan,
		`SELECT sp_name FROM sp_assignments WHERE user_id = ? ORDER BY sp_name`, userID)
}

// spVersionSQL reads an SP with its version (migration 015).
var spVersionSQL = strings.Replace(spRecord.selectSQL, " FROM ", ", version FROM ", 1)

// GetServiceProviderVersion returns the SP ref names and its version.
func (s *Store) GetServiceProviderVersion(ctx context.Context, ref store.SPRef) (sp.ServiceProvider, int64, error) {
	where, key := `name = ?`, ref.Name
	if ref.Name == "" {
		where, key = `entity_id = ?`, ref.EntityID
	}
	row := s.r.QueryRowContext(ctx, spVersionSQL+` WHERE `+where, key)
	var version int64
	p, err := spRecord.read(func(dest ...any) error { return row.Scan(append(dest, &version)...) })
	if err != nil {
		return sp.ServiceProvider{}, 0, wrap("get service provider", err)
	}
	return p, version, nil
}

// Assignees returns the IDs of the users assigned to the SP, by ID.
func (s *Store) Assignees(ctx context.Context, spName string, limit int) ([]string, error) {
	scan := func(sc scanner) (id string, err error) { return id, sc.Scan(&id) }
	q, args := `SELECT user_id FROM sp_assignments WHERE sp_name = ? ORDER BY user_id`, []any{spName}
	if limit > 0 {
		q, args = q+` LIMIT ?`, append(args, limit)
	}
	return collect(ctx, s, "list assignees", scan, q, args...)
}
