package sqlite

import (
	"context"
	"time"

	"github.com/flexidp/flexidp/internal/sp"
)

var spRecord = (&record[sp.ServiceProvider]{
	noun:  "service provider",
	table: "service_providers",
	cols: []string{"name", "entity_id", "acs_urls", "default_redirect_url", "session_not_on_or_after",
		"assignment_required", "policy", "created_at", "updated_at", "slo_url", "signing_certificate_pem", "allow_unsigned_requests"},
	order:   "name",
	key:     func(p *sp.ServiceProvider) *string { return &p.Name },
	created: func(p *sp.ServiceProvider) *time.Time { return &p.CreatedAt },
	updated: func(p *sp.ServiceProvider) *time.Time { return &p.UpdatedAt },
	args: func(p *sp.ServiceProvider) ([]any, error) {
		acs, err := encodeJSON("acs_urls", orEmpty(p.ACSURLs))
		if err != nil {
			return nil, err
		}
		policy, err := encodeJSON("policy", &p.Policy)
		if err != nil {
			return nil, err
		}
		return []any{p.Name, p.EntityID, acs, p.DefaultRedirectURL, int64(p.SessionNotOnOrAfter),
			p.AssignmentRequired, policy, micros(p.CreatedAt), micros(p.UpdatedAt), p.SLOURL, p.SigningCertificatePEM, p.AllowUnsignedRequests}, nil
	},
	scan: func(sc scanner) (sp.ServiceProvider, error) {
		var (
			p                       sp.ServiceProvider
			acs, policy             string
			snooa, created, updated int64
		)
		err := sc.Scan(&p.Name, &p.EntityID, &acs, &p.DefaultRedirectURL, &snooa,
			&p.AssignmentRequired, &policy, &created, &updated, &p.SLOURL, &p.SigningCertificatePEM, &p.AllowUnsignedRequests)
		if err != nil {
			return sp.ServiceProvider{}, err
		}
		if err := decodeJSON("acs_urls", acs, &p.ACSURLs); err != nil {
			return sp.ServiceProvider{}, err
		}
		if err := decodeJSON("policy of service provider "+p.Name, policy, &p.Policy); err != nil {
			return sp.ServiceProvider{}, err
		}
		p.ACSURLs = nonEmpty(p.ACSURLs)
		p.SessionNotOnOrAfter = time.Duration(snooa)
		p.CreatedAt, p.UpdatedAt = fromMicros(created), fromMicros(updated)
		return p, nil
	},
}).init()

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
