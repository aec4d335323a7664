package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
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

// TestGroupCommit: visits that wait for the writer together commit as one
// transaction, and each is judged alone: a replayed request, a visit that
// fails after its first write (its session ID is taken), and a visit
// built from an SP that changed are refused with their own error and
// leave nothing behind, while the others in the same transaction commit.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	must(t, s.CreateUser(ctx, user("u1", "a@example.com")))
	must(t, s.CreateServiceProvider(ctx, sp.ServiceProvider{Name: "flex", EntityID: "urn:flex", ACSURLs: []string{"https://flex.example.com/acs"}}))
	_, version, err := s.GetServiceProviderVersion(ctx, store.SPRef{Name: "flex"})
	must(t, err)
	now := time.Now()
	must(t, s.CreateSession(ctx, store.Session{ID: "taken", UserID: "u1", Index: "i0", AuthnInstant: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}))
	expires := now.Add(time.Hour)
	must(t, s.ConsumeOnce(ctx, "flex|_answered", expires))

	visit := func(key string, v store.Visit) store.Visit {
		v.Once = &store.Once{Key: key, ExpiresAt: expires}
		v.Audit = []store.AuditEvent{{Action: "saml.response", UserID: "u1", Reason: key}}
		return v
	}
	current := &store.SPVersion{Name: "flex", Version: version}
	cases := []struct {
		key    string
		v      store.Visit
		want   error // nil: committed
		stored bool
	}{
		{"flex|_a", visit("flex|_a", store.Visit{SP: current}), nil, true},
		{"flex|_answered", visit("flex|_answered", store.Visit{SP: current}), store.ErrConflict, true},
		{"flex|_session-taken", visit("flex|_session-taken", store.Visit{SP: current, StartSession: &store.Session{
			ID: "taken", UserID: "u1", Index: "i1", AuthnInstant: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}}), store.ErrConflict, false},
		{"flex|_b", visit("flex|_b", store.Visit{SP: current}), nil, true},
		{"flex|_sp-changed", visit("flex|_sp-changed", store.Visit{SP: &store.SPVersion{Name: "flex", Version: version + 1}}), store.ErrChanged, false},
		{"flex|_c", visit("flex|_c", store.Visit{TouchSession: "taken", TouchAt: now.Add(time.Minute)}), nil, true},
	}

	hold := make(chan struct{})
	var sizes, ran []int
	s.group.hold = hold
	s.group.size = func(n int) { sizes = append(sizes, n) }
	s.committed = func(n int) { ran = append(ran, n) }
	errs := make([]chan error, len(cases))
	for i, tc := range cases {
		errs[i] = make(chan error, 1)
		go func() { errs[i] <- s.RecordVisit(ctx, tc.v) }()
		waitFor(t, func() bool { s.group.mu.Lock(); defer s.group.mu.Unlock(); return len(s.group.queue) == i+1 })
	}
	close(hold)
	for i, tc := range cases {
		if err := <-errs[i]; !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("visit %s: %v, want %v", tc.key, err, tc.want)
		}
	}
	if len(sizes) != 1 || sizes[0] != len(cases) {
		t.Fatalf("group sizes %v, want one group of %d", sizes, len(cases))
	}
	if len(ran) != 3 {
		t.Errorf("statements of the committed visits %v, want three visits told", ran)
	}
	for _, tc := range cases {
		var n int
		must(t, s.r.QueryRowContext(ctx, `SELECT count(*) FROM consumed_ids WHERE key = ?`, tc.key).Scan(&n))
		if (n == 1) != tc.stored {
			t.Errorf("visit %s: %d replay records, want stored=%v", tc.key, n, tc.stored)
		}
		must(t, s.r.QueryRowContext(ctx, `SELECT count(*) FROM audit_events WHERE reason = ?`, tc.key).Scan(&n))
		if want := tc.want == nil; (n == 1) != want {
			t.Errorf("visit %s: %d audit rows, want written=%v", tc.key, n, want)
		}
	}
	got, err := s.GetSession(ctx, "taken")
	must(t, err)
	if got.Index != "i0" || !got.LastSeenAt.Equal(now.Add(time.Minute).Truncate(time.Microsecond)) {
		t.Errorf("session after the group: index %q, last seen %v; want the first session, touched by visit c", got.Index, got.LastSeenAt)
	}
}

// waitFor waits up to 10 s for cond to hold.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
	}
}

// TestGroupCommitPanic: a write that panics inside a group commit fails
// the whole group (nothing of it is kept), the panic reaches the caller
// that led the group, and the writers that follow are not left waiting.
func TestGroupCommitPanic(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	insert := func(key string) func(tx *txn) error {
		return func(tx *txn) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO consumed_ids (key, expires_at) VALUES (?, 0)`, key)
			return err
		}
	}
	hold := make(chan struct{})
	s.group.hold = hold
	leader := make(chan any, 1)
	go func() {
		defer func() { leader <- recover() }()
		_ = s.writeGrouped(insert("first"))
	}()
	queued := func(n int) func() bool {
		return func() bool { s.group.mu.Lock(); defer s.group.mu.Unlock(); return len(s.group.queue) == n }
	}
	waitFor(t, queued(1))
	errs := make(chan error, 2)
	go func() { errs <- s.writeGrouped(func(*txn) error { panic("a bug in a write") }) }()
	waitFor(t, queued(2))
	go func() { errs <- s.writeGrouped(insert("third")) }()
	waitFor(t, queued(3))
	close(hold)
	if p := <-leader; p != "a bug in a write" {
		t.Errorf("the leader recovered %v, want the write's panic", p)
	}
	for range 2 {
		select {
		case err := <-errs:
			if err == nil || !strings.Contains(err.Error(), "panicked") {
				t.Errorf("a member of the group: %v, want the group's failure", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a member of the group still waits 10 s after the leader's panic")
		}
	}
	var n int
	must(t, s.r.QueryRowContext(ctx, `SELECT count(*) FROM consumed_ids`).Scan(&n))
	if n != 0 {
		t.Errorf("%d rows kept from a group that panicked, want 0", n)
	}
	s.group.hold = nil
	must(t, s.writeGrouped(insert("after")))
	must(t, s.r.QueryRowContext(ctx, `SELECT count(*) FROM consumed_ids`).Scan(&n))
	if n != 1 {
		t.Errorf("%d rows after the next write, want 1", n)
	}
}
