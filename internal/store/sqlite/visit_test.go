package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
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

// TestRecordVisitBatch: visits that wait for the writer are committed in
// one transaction, each in its own savepoint: a replay of a request
// answered earlier in the same batch, a stale SP and a taken session ID
// are refused and write nothing, the others commit, and each caller gets
// its own result.
func TestRecordVisitBatch(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	must(t, s.CreateUser(ctx, user("u1", "a@example.com")))
	t0 := time.Now().UTC()
	must(t, s.CreateSession(ctx, store.Session{ID: "taken", UserID: "u1", Index: "i", AuthnInstant: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	must(t, s.CreateServiceProvider(ctx, sp.ServiceProvider{Name: "flex", EntityID: "urn:flex", ACSURLs: []string{"https://flex.example.com/acs"}}))
	_, version, err := s.GetServiceProviderVersion(ctx, store.SPRef{Name: "flex"})
	must(t, err)
	later := t0.Add(time.Hour)
	visit := func(key, action string) store.Visit {
		return store.Visit{Once: &store.Once{Key: key, ExpiresAt: later}, SP: &store.SPVersion{Name: "flex", Version: version},
			Audit: []store.AuditEvent{{Action: action}}}
	}
	stale := visit("flex|_stale", "stale")
	stale.SP = &store.SPVersion{Name: "flex", Version: version - 1}
	taken := visit("flex|_taken", "taken")
	taken.StartSession = &store.Session{ID: "taken", UserID: "u1", Index: "j", AuthnInstant: t0, LastSeenAt: t0, ExpiresAt: later}
	cases := []struct {
		name string
		v    store.Visit
		want error
	}{
		{"first", visit("flex|_1", "first"), nil},
		{"replay of the first", visit("flex|_1", "replay"), store.ErrConflict},
		{"stale SP", stale, store.ErrChanged},
		{"taken session ID", taken, store.ErrConflict},
		{"second", visit("flex|_2", "second"), nil},
	}

	// The writer is held: the first call takes the queue and waits for
	// it, the others queue behind it and are written as one batch.
	var (
		mu      sync.Mutex
		commits int // that ran statements (the held write runs none)
	)
	s.committed = func(n int) {
		if n > 0 {
			mu.Lock()
			commits++
			mu.Unlock()
		}
	}
	held, release := make(chan struct{}), make(chan struct{})
	go func() {
		_ = s.write(ctx, func(*txn) error { close(held); <-release; return nil })
	}()
	<-held
	lead := make(chan error, 1)
	go func() { lead <- s.RecordVisit(ctx, visit("flex|_lead", "lead")) }()
	waitQueued(t, s, 0) // the leader took its own visit
	errs := make([]chan error, len(cases))
	for i, tc := range cases {
		errs[i] = make(chan error, 1)
		go func() { errs[i] <- s.RecordVisit(ctx, tc.v) }()
		waitQueued(t, s, i+1) // in this order
	}
	close(release)
	must(t, <-lead)
	for i, tc := range cases {
		if err := <-errs[i]; !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: RecordVisit = %v, want %v", tc.name, err, tc.want)
		}
	}
	mu.Lock()
	if commits != 2 {
		t.Errorf("%d commits of visits, want the leader's and one for the batch of %d", commits, len(cases))
	}
	mu.Unlock()
	audit, err := s.ListAudit(ctx, store.AuditFilter{})
	must(t, err)
	var actions []string
	for _, e := range audit {
		actions = append([]string{e.Action}, actions...)
	}
	if want := []string{"lead", "first", "second"}; !slices.Equal(actions, want) {
		t.Errorf("audit %v, want %v: the refused visits wrote nothing", actions, want)
	}
	for key, want := range map[string]error{"flex|_1": store.ErrConflict, "flex|_2": store.ErrConflict, "flex|_stale": nil, "flex|_taken": nil} {
		if err := s.ConsumeOnce(ctx, key, later); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("ConsumeOnce(%s) = %v, want %v", key, err, want)
		}
	}
}

// waitQueued waits until n visits wait for the writer behind a busy one.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.visits.mu.Lock()
		got, busy := len(s.visits.pending), s.visits.busy
		s.visits.mu.Unlock()
		if busy && got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d visits queued (busy %v), want %d", got, busy, n)
		}
		runtime.Gosched()
	}
}
