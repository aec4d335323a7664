package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flexidp/flexidp/internal/sp"
)

var spRecord = (&record[sp.ServiceProvider]{
	noun:  "service provider",
	table: "service_providers",
	cols: []string{"name", "entity_id", "acs_urls", "default_redirect_url", "session_not_on_or_after",
		"assignment_required", "policy", "created_at", "updated_at", "slo_url", "signing_certificate_pem", "allow_unsigned_requests"},
	order:   `name COLLATE "C"`,
	key:     func(p *sp.ServiceProvider) *string { return &p.Name },
	created: func(p *sp.ServiceProvider) *time.Time { return &p.CreatedAt },
	updated: func(p *sp.ServiceProvider) *time.Time { return &p.UpdatedAt },
	args: func(p *sp.ServiceProvider) ([]any, error) {
		policy, err := json.Marshal(p.Policy)
		if err != nil {
			return nil, fmt.Errorf("encode policy: %w", err)
		}
		return []any{p.Name, p.EntityID, orEmpty(p.ACSURLs), p.DefaultRedirectURL, int64(p.SessionNotOnOrAfter),
			p.AssignmentRequired, policy, ts(p.CreatedAt), ts(p.UpdatedAt), p.SLOURL, p.SigningCertificatePEM, p.AllowUnsignedRequests}, nil
	},
	scan: func(row pgx.CollectableRow) (sp.ServiceProvider, error) {
		var p sp.ServiceProvider
		var policy []byte
		err := row.Scan(&p.Name, &p.EntityID, &p.ACSURLs, &p.DefaultRedirectURL, &p.SessionNotOnOrAfter,
			&p.AssignmentRequired, &policy, &p.CreatedAt, &p.UpdatedAt, &p.SLOURL, &p.SigningCertificatePEM, &p.AllowUnsignedRequests)
		if err != nil {
			return p, err
		}
		if err := json.Unmarshal(policy, &p.Policy); err != nil {
			return p, fmt.Errorf("decode policy of service provider %q: %w", p.Name, err)
		}
		p.ACSURLs = nonEmpty(p.ACSURLs)
		p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
		return p, nil
	},
}).init()

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
