package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/storetest"
	"github.com/flexidp/flexidp/internal/users"
)

// openStore opens a store at path, migrates it and closes it when the test ends.
func openStore(t testing.TB, path string) *Store {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// newStore returns a fresh, migrated store in its own file.
func newStore(t testing.TB) *Store {
	t.Helper()
	return openStore(t, filepath.Join(t.TempDir(), "flexidp.db"))
}

func user(id, email string) users.User {
	return users.User{ID: id, Email: email, FullName: "User " + id, Roles: []string{"agent"}}
}

// openEmpty opens a store in a new file without migrating it.
func openEmpty(t *testing.T, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "empty.db"), opts...)
	must(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	s := openEmpty(t)

	applied, err := s.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) == 0 || applied[0] != "001_initial" {
		t.Errorf("first Migrate applied %q, want 001_initial first", applied)
	}
	again, err := s.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 0 {
		t.Errorf("second Migrate applied %q, want nothing", again)
	}
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(applied) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(applied))
	}
}

// A migration that fails leaves no trace, and the ones before it stay.
func TestMigrateFailureRollsBack(t *testing.T) {
	ctx := context.Background()
	s := openEmpty(t)
	fsys := fstest.MapFS{
		"001_a.sql": {Data: []byte(`CREATE TABLE a (x INTEGER);`)},
		"002_b.sql": {Data: []byte(`CREATE TABLE b (x INTEGER); CREATE TABLE syntax error;`)},
	}
	applied, err := s.migrate(ctx, fsys)
	if err == nil {
		t.Fatal("migrate with a broken migration succeeded")
	}
	if len(applied) != 1 || applied[0] != "001_a" {
		t.Errorf("applied = %q, want [001_a]", applied)
	}
	for table, want := range map[string]int{"a": 1, "b": 0} {
		var n int
		if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name = ?`, table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("table %s exists %d times, want %d", table, n, want)
		}
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data", "flexidp.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, user("u1", "Ann@Example.com")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, path)
	u, err := s.GetUserByEmail(ctx, "ann@example.COM")
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != "u1" || u.Email != "Ann@Example.com" {
		t.Errorf("after reopen got %+v", u)
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()

	t.Run("creates the directory 0700", func(t *testing.T) {
		path := filepath.Join(dir, "new", "sub", "x.db")
		openStore(t, path)
		fi, err := os.Stat(filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o700 {
			t.Errorf("directory mode %v, want 0700", perm)
		}
	})
	t.Run("odd characters in the path", func(t *testing.T) {
		path := filepath.Join(dir, "a?b#c%20d&e", "x.db")
		s := openStore(t, path)
		if err := s.CreateUser(ctx, user("u1", "a@example.com")); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(path); err != nil {
			t.Errorf("database not at %s: %v", path, err)
		}
	})
	for name, path := range map[string]string{
		"empty":               "",
		"memory":              ":memory:",
		"parent is a file":    filepath.Join(writeFile(t, dir, "file"), "x.db"),
		"path is a directory": dir,
	} {
		t.Run(name, func(t *testing.T) {
			s, err := Open(ctx, path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", path)
			}
			if want := "open SQLite database at " + path + ": "; len(err.Error()) <= len(want) || err.Error()[:len(want)] != want {
				t.Errorf("error %q does not start with %q", err, want)
			}
		})
	}
}

func writeFile(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Driver errors become store errors, and the driver's types do not leak.

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Attribute sets are validated when read: a row that no longer decodes is
// an error, not a silently empty set.
func TestCorruptAttributes(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	must(t, s.CreateUser(ctx, user("u1", "a@example.com")))
	if _, err := s.w.ExecContext(ctx, `UPDATE users SET attributes = '{"level.int":"high"}' WHERE id = 'u1'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUser(ctx, "u1"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUser of a corrupt row: %v, want a decode error", err)
	}
}

// ConsumeOnce against the store's clock: a live key conflicts, an expired
// one is replaced.
func TestConsumeOnceExpiry(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := openEmpty(t, WithClock(func() time.Time { return now }))
	_, err := s.Migrate(ctx)
	must(t, err)

	must(t, s.ConsumeOnce(ctx, "id1", now.Add(time.Minute)))
	if err := s.ConsumeOnce(ctx, "id1", now.Add(time.Minute)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second ConsumeOnce: %v, want ErrConflict", err)
	}
	now = now.Add(time.Minute) // expiresAt <= now: expired
	must(t, s.ConsumeOnce(ctx, "id1", now.Add(time.Minute)))
	if err := s.ConsumeOnce(ctx, "id1", now.Add(time.Hour)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("ConsumeOnce after replacement: %v, want ErrConflict", err)
	}
}

// Many goroutines and two Store values on one file (as a server and a CLI
// process would be) write at once: no SQLITE_BUSY, no lost update, and
// exactly one winner per one-time key.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	stores := []*Store{openStore(t, path), openStore(t, path)}
	must(t, stores[0].CreateUser(ctx, users.User{ID: "counter", Email: "counter@example.com", Team: "0"}))

	const workers, perWorker = 20, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	consumed := 0
	errs := make(chan error, workers*perWorker*4)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[w%len(stores)]
			for i := range perWorker {
				id := fmt.Sprintf("w%d-%d", w, i)
				if err := s.CreateUser(ctx, user(id, id+"@example.com")); err != nil {
					errs <- err
				}
				_, err := s.UpdateUser(ctx, "counter", func(u users.User) (users.User, error) {
					n, err := strconv.Atoi(u.Team)
					u.Team = strconv.Itoa(n + 1)
					return u, err
				})
				if err != nil {
					errs <- err
				}
				if _, err := s.ListUsers(ctx, store.UserFilter{Limit: 5}); err != nil {
					errs <- err
				}
				switch err := s.ConsumeOnce(ctx, fmt.Sprint("req-", i), time.Now().Add(time.Hour)); {
				case err == nil:
					mu.Lock()
					consumed++
					mu.Unlock()
				case !errors.Is(err, store.ErrConflict):
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	all, err := stores[1].ListUsers(ctx, store.UserFilter{})
	must(t, err)
	if len(all) != workers*perWorker+1 {
		t.Errorf("%d users, want %d", len(all), workers*perWorker+1)
	}
	c, err := stores[1].GetUser(ctx, "counter")
	must(t, err)
	if c.Team != strconv.Itoa(workers*perWorker) {
		t.Errorf("counter = %s, want %d: an update was lost", c.Team, workers*perWorker)
	}
	if consumed != perWorker {
		t.Errorf("%d ConsumeOnce calls succeeded, want %d (one per key)", consumed, perWorker)
	}
}

func BenchmarkCreateUser(b *testing.B) {
	ctx := context.Background()
	s := newStore(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := strconv.Itoa(i)
		i++
		if err := s.CreateUser(ctx, user(id, id+"@example.com")); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetUserByEmail(b *testing.B) {
	ctx := context.Background()
	s := newStore(b)
	const n = 1000
	for i := range n {
		id := strconv.Itoa(i)
		must(b, s.CreateUser(ctx, user(id, "User"+id+"@Example.com")))
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.GetUserByEmail(ctx, "user"+strconv.Itoa(i%n)+"@example.com"); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// TestLastOwnerRaceAcrossStores races the removal of the last two console
// owners through two store values on one file, as two CLI runs (or a CLI
// and the server) do: each has its own writer connection.
func TestLastOwnerRaceAcrossStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "owners.db")
	storetest.LastOwnerRace(t, openStore(t, path), openStore(t, path))
}

// TestSessionStampCoversColumns: the trigger that moves a session's stamp
// (migration 020) fires on an update of every column of sessions but
// last_seen_at (which every visit touches) and stamp itself: a column
// added later without it would change a session unseen by the server's
// cache.
func TestSessionStampCoversColumns(t *testing.T) {
	ctx := t.Context()
	s := openEmpty(t)
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var def string
	if err := s.r.QueryRowContext(ctx, `SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND name = 'sessions_stamp'`).Scan(&def); err != nil {
		t.Fatal(err)
	}
	_, list, _ := strings.Cut(def, "UPDATE OF ")
	list, _, _ = strings.Cut(list, " ON sessions")
	var fires []string
	for c := range strings.SplitSeq(list, ",") {
		fires = append(fires, strings.TrimSpace(c))
	}
	rows, err := s.r.QueryContext(ctx, `SELECT name FROM pragma_table_info('sessions') WHERE name NOT IN ('last_seen_at', 'stamp') ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	slices.Sort(fires)
	if !slices.Equal(cols, fires) || len(cols) < 10 {
		t.Errorf("sessions_stamp fires on an update of %v; want every column but last_seen_at and stamp: %v", fires, cols)
	}
}
