package postgres_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/pgtest"
	"github.com/flexidp/flexidp/internal/store/postgres"
	"github.com/flexidp/flexidp/internal/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// open opens a store on url and closes it when t ends.
func open(t *testing.T, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newStore is a migrated store on a fresh database.
func newStore(t *testing.T) *postgres.Store {
	t.Helper()
	s := open(t, pgtest.URL(t))
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t) })
}

// TestGroupCommit: RecordVisit's group commit, each visit judged alone
// (storetest.GroupCommit): the group's pipeline fails for the visit whose
// session ID is taken, and each visit is sent again alone.
func TestGroupCommit(t *testing.T) {
	s := newStore(t)
	storetest.GroupCommit(t, s, postgres.VisitGroup(s))
}

func TestMigrateTwiceIsNoOp(t *testing.T) {
	s := open(t, pgtest.URL(t))
	applied, err := s.Migrate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) == 0 || applied[0] != "001_initial.sql" {
		t.Fatalf("first Migrate applied %v, want 001_initial.sql first", applied)
	}
	again, err := s.Migrate(t.Context())
	if err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if len(again) != 0 {
		t.Fatalf("second Migrate applied %v, want nothing", again)
	}
	checkVersions(t, s, len(applied))
}

func TestMigrateConcurrently(t *testing.T) {
	url := pgtest.URL(t)
	const replicas = 4
	stores := make([]*postgres.Store, replicas)
	for i := range stores {
		stores[i] = open(t, url)
	}
	applied := make([][]string, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, s := range stores {
		wg.Go(func() {
			<-start
			applied[i], errs[i] = s.Migrate(t.Context())
		})
	}
	close(start)
	wg.Wait()
	total := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Migrate #%d: %v", i, err)
		}
		total += len(applied[i])
	}
	checkVersions(t, stores[0], total)
}

// checkVersions checks that schema_migrations holds n versions, each once.
func checkVersions(t *testing.T, s *postgres.Store, n int) {
	t.Helper()
	var count, distinct int
	err := s.Pool().QueryRow(t.Context(), `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&count, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if count != n || distinct != n {
		t.Fatalf("schema_migrations has %d rows, %d versions; want %d applied migrations, each once", count, distinct, n)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := postgres.Open(ctx, "postgres://flexidp:s3cret-pw@127.0.0.1:1/flexidp?sslmode=disable")
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "connect to PostgreSQL at 127.0.0.1:1: ") || strings.Contains(msg, "s3cret-pw") {
		t.Fatalf("Open error = %q, want it to name the address and not the password", msg)
	}

	_, err = postgres.Open(t.Context(), "postgres://flexidp:s3cret-pw@127.0.0.1:port/flexidp")
	if err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("Open of a malformed URL: %v, want an error without the password", err)
	}
}

func TestErrorsAreStoreErrors(t *testing.T) {
	s := newStore(t)
	_, err := s.GetUser(t.Context(), "nobody")
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetUser: %v", err)
	}
	if strings.Contains(err.Error(), "no rows") {
		t.Errorf("error %q shows the driver error", err)
	}
}

// TestLastOwnerRaceAcrossStores races the removal of the last two console
// owners through two stores (two pools) on one database, as two replicas
// or a CLI run and the server do.
func TestLastOwnerRaceAcrossStores(t *testing.T) {
	url := pgtest.URL(t)
	first := open(t, url)
	if _, err := first.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	storetest.LastOwnerRace(t, first, open(t, url))
}

// TestSessionStampCoversColumns: the trigger that moves a session's stamp
// (migration 020) fires on an update of every column of sessions but
// last_seen_at (which every visit touches) and stamp itself: a column
// added later without it would change a session unseen by the replicas'
// caches.
func TestSessionStampCoversColumns(t *testing.T) {
	s := newStore(t)
	var cols, fires []string
	err := s.Pool().QueryRow(t.Context(), `SELECT
		(SELECT array_agg(column_name::text ORDER BY column_name) FROM information_schema.columns
			WHERE table_name = 'sessions' AND column_name NOT IN ('last_seen_at', 'stamp')),
		(SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_trigger g
			JOIN pg_attribute a ON a.attrelid = g.tgrelid AND a.attnum = ANY (g.tgattr)
			WHERE g.tgname = 'sessions_stamp')`).Scan(&cols, &fires)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cols, fires) || len(cols) < 10 {
		t.Errorf("sessions_stamp fires on an update of %v; want every column but last_seen_at and stamp: %v", fires, cols)
	}
}
