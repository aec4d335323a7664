package storetest

import (
	"cmp"
	"context"
	"sync"
	"testing"

	"github.com/flexidp/flexidp/internal/store"
)

// SearchUsersN is the population of BenchmarkSearch: the admin console's
// users page must answer in under 100 ms of server time with this many.
const SearchUsersN = 100_000

// BenchmarkSearch loads SearchUsersN users once (ImportBatch, with one in
// a hundred also a supervisor and one in fifty disabled) and measures the
// queries of the admin console's users page, each a page of 50: the first
// page, a page 90% deep in the list by cursor, a substring that matches
// one user (the whole table is read), a role one user in a hundred has,
// CountUsers of everyone, of that role and of that substring, and the
// worst page with its count as the service answers it. newStore is as for BenchmarkImport.
func BenchmarkSearch(b *testing.B, newStore func(tb testing.TB) store.Store) {
	const pageSize = 50
	ctx := context.Background()
	batch := ImportBatch(SearchUsersN)
	for i := range batch {
		if i%100 == 7 {
			batch[i].Roles = append(batch[i].Roles, "supervisor")
		}
		batch[i].Disabled = i%50 == 3
	}
	s := newStore(b)
	if _, err := s.ImportUsers(ctx, batch); err != nil {
		b.Fatal(err)
	}
	// ImportBatch's emails sort in index order once folded.
	deep := store.CursorOf(batch[SearchUsersN*9/10])
	list := func(f store.UserFilter, want int) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				got, err := s.ListUsers(ctx, f)
				if err != nil {
					b.Fatal(err)
				}
				if len(got) != want {
					b.Fatalf("ListUsers(%+v): %d users, want %d", f, len(got), want)
				}
			}
		}
	}
	count := func(f store.UserFilter, want int) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				n, err := s.CountUsers(ctx, f)
				if err != nil {
					b.Fatal(err)
				}
				if n != want {
					b.Fatalf("CountUsers(%+v) = %d, want %d", f, n, want)
				}
			}
		}
	}
	b.Run("first-page", list(store.UserFilter{Limit: pageSize}, pageSize))
	b.Run("deep-page", list(store.UserFilter{After: deep, Limit: pageSize}, pageSize))
	b.Run("substring-one-match", list(store.UserFilter{Query: "0077777@", Limit: pageSize}, 1))
	b.Run("substring-page", list(store.UserFilter{Query: "agent 9", Limit: pageSize}, pageSize))
	b.Run("role-page", list(store.UserFilter{Role: "supervisor", Limit: pageSize}, pageSize))
	b.Run("role-team-enabled-page", list(store.UserFilter{Role: "agent", Team: "Team xx", Disabled: new(bool), Limit: pageSize}, pageSize))
	b.Run("count-all", count(store.UserFilter{}, SearchUsersN))
	b.Run("count-role", count(store.UserFilter{Role: "supervisor"}, SearchUsersN/100))
	b.Run("count-substring", count(store.UserFilter{Query: "0077777@"}, 1))
	// The worst page: a substring that only one user matches, both reads
	// reading every user, run concurrently as accounts.SearchUsers does.
	b.Run("page-and-count", func(b *testing.B) {
		f := store.UserFilter{Query: "0077777@", Limit: pageSize + 1}
		for b.Loop() {
			var wg sync.WaitGroup
			var countErr error
			wg.Go(func() { _, countErr = s.CountUsers(ctx, f) })
			_, err := s.ListUsers(ctx, f)
			wg.Wait()
			if err = cmp.Or(err, countErr); err != nil {
				b.Fatal(err)
			}
		}
	})
}
