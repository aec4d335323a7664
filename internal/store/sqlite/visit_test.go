package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/group"
	"github.com/flexidp/flexidp/internal/store/storetest"
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

// TestGroupCommit: RecordVisit's group commit, each visit judged alone
// (storetest.GroupCommit).
func TestGroupCommit(t *testing.T) {
	s := newStore(t)
	storetest.GroupCommit(t, s, &s.group)
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
	s.group.SetHooks(group.Hooks{Hold: hold})
	leader := make(chan any, 1)
	go func() {
		defer func() { leader <- recover() }()
		_ = s.writeGrouped(insert("first"))
	}()
	queued := func(n int) func() bool {
		return func() bool { return s.group.Waiting() == n }
	}
	storetest.WaitFor(t, queued(1), "the first write to lead")
	errs := make(chan error, 2)
	go func() { errs <- s.writeGrouped(func(*txn) error { panic("a bug in a write") }) }()
	storetest.WaitFor(t, queued(2), "the second write to wait")
	go func() { errs <- s.writeGrouped(insert("third")) }()
	storetest.WaitFor(t, queued(3), "the third write to wait")
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
	s.group.SetHooks(group.Hooks{})
	must(t, s.writeGrouped(insert("after")))
	must(t, s.r.QueryRowContext(ctx, `SELECT count(*) FROM consumed_ids`).Scan(&n))
	if n != 1 {
		t.Errorf("%d rows after the next write, want 1", n)
	}
}

// TestWritePanicFreesTheWriter: a write that panics leaves no transaction
// open on the writer's one connection, so the next write goes through
// (it waited for ever before).
func TestWritePanicFreesTheWriter(t *testing.T) {
	s := newStore(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { _ = recover() }()
		_ = s.write(t.Context(), func(tx *txn) error {
			if _, err := tx.ExecContext(t.Context(), `INSERT INTO consumed_ids (key, expires_at) VALUES ('before', 0)`); err != nil {
				return err
			}
			panic("a bug in a write")
		})
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the write that panicked still holds the writer after 5 s")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	must(t, s.write(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO consumed_ids (key, expires_at) VALUES ('after', 0)`)
		return err
	}))
	var keys []string
	rows, err := s.r.QueryContext(t.Context(), `SELECT key FROM consumed_ids ORDER BY key`)
	must(t, err)
	defer rows.Close()
	for rows.Next() {
		var k string
		must(t, rows.Scan(&k))
		keys = append(keys, k)
	}
	must(t, rows.Err())
	if !slices.Equal(keys, []string{"after"}) {
		t.Errorf("replay records %v, want only the write after the panic's", keys)
	}
}

// TestGroupKeepsOnlyCommittedWritesEvents: the audit events a write of a
// group queued are dropped with its writes when it fails, and the others'
// are written, in their order, however many (one statement per power of
// two of them).
func TestGroupKeepsOnlyCommittedWritesEvents(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	write := func(name string, events int, fail bool) func(tx *txn) error {
		return func(tx *txn) error {
			for i := range events {
				tx.queueAudit(store.AuditEvent{Action: "test", Reason: fmt.Sprintf("%s-%02d", name, i), Time: time.Now()})
			}
			if fail {
				return errors.New("this write fails after queueing its events")
			}
			return nil
		}
	}
	hold := make(chan struct{})
	s.group.SetHooks(group.Hooks{Hold: hold})
	errs := make(chan error, 3)
	go func() { errs <- s.writeGrouped(write("a", 35, false)) }()
	storetest.WaitFor(t, func() bool { return s.group.Waiting() == 1 }, "the first write to lead")
	go func() { errs <- s.writeGrouped(write("b", 2, true)) }()
	storetest.WaitFor(t, func() bool { return s.group.Waiting() == 2 }, "the second write to wait")
	go func() { errs <- s.writeGrouped(write("c", 1, false)) }()
	storetest.WaitFor(t, func() bool { return s.group.Waiting() == 3 }, "the third write to wait")
	close(hold)
	failed := 0
	for range 3 {
		if err := <-errs; err != nil {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d writes of the group failed, want 1", failed)
	}
	list, err := s.ListAudit(ctx, store.AuditFilter{Limit: 100})
	must(t, err)
	var got []string
	for _, e := range slices.Backward(list) { // newest first
		got = append(got, e.Reason)
	}
	var want []string
	for i := range 35 {
		want = append(want, fmt.Sprintf("a-%02d", i))
	}
	want = append(want, "c-00")
	if !slices.Equal(got, want) {
		t.Errorf("audit events in ID order %v,\nwant %v", got, want)
	}
}
