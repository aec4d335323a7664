package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
)

// TestRecordVisitSSOStatements: an SSO Response's commit runs two
// statements (the replay record, with the SP's version check, and the
// audit row), a third when the prune of expired replay records is due
// (at most once every pruneEvery), and prunes then.
func TestRecordVisitSSOStatements(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	s, err := Open(ctx, filepath.Join(t.TempDir(), "flexidp.db"), WithClock(func() time.Time { return now }))
	must(t, err)
	t.Cleanup(func() { _ = s.Close() })
	_, err = s.Migrate(ctx)
	must(t, err)
	must(t, s.CreateServiceProvider(ctx, sp.ServiceProvider{Name: "flex", EntityID: "urn:flex", ACSURLs: []string{"https://flex.example.com/acs"}}))
	_, version, err := s.GetServiceProviderVersion(ctx, store.SPRef{Name: "flex"})
	must(t, err)
	var ran []int
	s.committed = func(n int) { ran = append(ran, n) }
	sso := func(key string, expires time.Time) error {
		return s.RecordVisit(ctx, store.Visit{Once: &store.Once{Key: key, ExpiresAt: expires},
			SP: &store.SPVersion{Name: "flex", Version: version}, Audit: []store.AuditEvent{{Action: "saml.response"}}})
	}
	rows := func() int {
		t.Helper()
		var n int
		must(t, s.r.QueryRowContext(ctx, `SELECT count(*) FROM consumed_ids`).Scan(&n))
		return n
	}

	for _, tc := range []struct {
		name       string
		advance    time.Duration
		statements int
		rows       int // replay records after the visit
	}{
		{"first visit prunes", 0, 3, 1},
		{"within pruneEvery", pruneEvery / 2, 2, 2},
		{"again within pruneEvery, the first record expired", pruneEvery / 4, 2, 3},
		{"prune due: the expired records go", pruneEvery, 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now = now.Add(tc.advance)
			ran = nil
			must(t, sso("flex|_"+tc.name, now.Add(pruneEvery/2)))
			if len(ran) != 1 || ran[0] != tc.statements {
				t.Errorf("the visit's transaction ran %v statements, want %d", ran, tc.statements)
			}
			if got := rows(); got != tc.rows {
				t.Errorf("%d replay records, want %d", got, tc.rows)
			}
		})
	}
}
