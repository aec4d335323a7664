package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// TestStatementsPreparedOnce: a statement is compiled once per pool and
// reused by every later call, on the read pool and inside the writer's
// transactions (where a statement seen first is prepared once the
// transaction has ended).
func TestStatementsPreparedOnce(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	must(t, s.CreateUser(ctx, user("u1", "a@example.com")))
	getUser := userRecord.selectSQL + ` WHERE id = ?`

	for _, tc := range []struct {
		name  string
		pool  *db
		query string
		run   func() error
	}{
		{"read pool", s.r, getUser, func() error { _, err := s.GetUser(ctx, "u1"); return err }},
		{"writer transaction", s.w, userRecord.updateSQL, func() error {
			_, err := s.UpdateUser(ctx, "u1", func(u users.User) (users.User, error) { u.Team = "t" + u.Team; return u, nil })
			return err
		}},
		{"writer", s.w, userRecord.insertSQL, func() error {
			return s.CreateUser(ctx, user(fmt.Sprintf("n%d", time.Now().UnixNano()), fmt.Sprintf("n%d@example.com", time.Now().UnixNano())))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			must(t, tc.run())
			first := tc.pool.cached(tc.query)
			if first == nil {
				t.Fatalf("after a first call, %q is not prepared", tc.query)
			}
			n := len(tc.pool.stmts)
			for range 3 {
				must(t, tc.run())
			}
			if got := tc.pool.cached(tc.query); got != first {
				t.Errorf("the statement was prepared again (%p, then %p)", first, got)
			}
			if got := len(tc.pool.stmts); got != n {
				t.Errorf("%d statements cached after the same calls again, want %d", got, n)
			}
		})
	}
}

// TestStatementCacheBounded: texts beyond maxStmts run unprepared, with
// the same results, and the cache stops growing.
func TestStatementCacheBounded(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	for i := range maxStmts + 20 {
		var n int
		must(t, s.r.QueryRowContext(ctx, fmt.Sprintf("SELECT ? + %d", i), 1).Scan(&n))
		if n != i+1 {
			t.Fatalf("query %d returned %d, want %d", i, n, i+1)
		}
	}
	if got := len(s.r.stmts); got > maxStmts {
		t.Errorf("%d statements cached, want at most %d", got, maxStmts)
	}
}

// TestStatementCacheConcurrent: readers, writers and transactions share
// the cached statements at once (run with -race); a transaction meeting a
// statement the writer has not prepared does not wait for itself.
func TestStatementCacheConcurrent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := newStore(t)
	must(t, s.CreateUser(ctx, user("u1", "a@example.com")))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				var err error
				switch (g + i) % 4 {
				case 0:
					_, err = s.GetUserByEmail(ctx, "a@example.com")
				case 1:
					_, err = s.UpdateUser(ctx, "u1", func(u users.User) (users.User, error) { return u, nil })
				case 2:
					err = s.CreateSession(ctx, store.Session{ID: fmt.Sprintf("s%d-%d", g, i), UserID: "u1", Index: fmt.Sprintf("i%d-%d", g, i),
						AuthnInstant: time.Now(), LastSeenAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
				case 3:
					_, _, _, err = s.GetSessionUser(ctx, "none")
					if err != nil && !isNotFound(err) {
						break
					}
					err = nil
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func isNotFound(err error) bool { return err != nil && errors.Is(err, store.ErrNotFound) }

// BenchmarkGetSessionUser is the SSO's read on SQLite: the statement
// prepared once and reused (cached), and compiled on every call as
// database/sql does with a query string (unprepared).
func BenchmarkGetSessionUser(b *testing.B) {
	ctx := context.Background()
	s := newStore(b)
	must(b, s.CreateUser(ctx, user("u1", "a@example.com")))
	now := time.Now()
	must(b, s.CreateSession(ctx, store.Session{ID: "s1", UserID: "u1", Index: "i1", AuthnInstant: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}))
	for _, bc := range []struct {
		name string
		run  func() error
	}{
		{"cached", func() error { _, _, _, err := s.GetSessionUser(ctx, "s1"); return err }},
		{"unprepared", func() error {
			u := &Store{w: s.w, r: &db{DB: s.r.DB, uncached: true}, now: s.now}
			_, _, _, err := u.GetSessionUser(ctx, "s1")
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if err := bc.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDurabilityPragmas pins the embedded store's durability settings, a
// decision SECURITY.md states ("Accountability"): WAL, synchronous NORMAL
// (a commit survives a crash of idp; a power cut may lose the last
// commits), foreign keys on, on the writer and on every reader.
func TestDurabilityPragmas(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	for _, tc := range []struct {
		name string
		pool *db
	}{{"writer", s.w}, {"reader", s.r}} {
		for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "1", "foreign_keys": "1"} {
			var got string
			if err := tc.pool.DB.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatalf("%s: PRAGMA %s: %v", tc.name, pragma, err)
			}
			if got != want {
				t.Errorf("%s: PRAGMA %s = %s, want %s", tc.name, pragma, got, want)
			}
		}
	}
}
