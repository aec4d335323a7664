package sqlite

import (
	"testing"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/storetest"
)

// BenchmarkImport100k imports 100,000 users into a database file in a
// temporary directory. Run: go test -run '^$' -bench Import100k -benchtime 1x ./internal/store/sqlite
func BenchmarkImport100k(b *testing.B) {
	storetest.BenchmarkImport(b, 100_000, func(tb testing.TB) store.Store { return newStore(tb) })
}

// BenchmarkSearchUsers100k measures the users page's queries on 100,000
// users. Run: go test -run '^$' -bench SearchUsers100k -benchtime 20x ./internal/store/sqlite
func BenchmarkSearchUsers100k(b *testing.B) {
	storetest.BenchmarkSearch(b, func(tb testing.TB) store.Store { return newStore(tb) })
}

// BenchmarkSignInReads: the SSO's and a password sign-in's reads, one
// statement each against the same reads one by one.
func BenchmarkSignInReads(b *testing.B) {
	storetest.BenchmarkSignInReads(b, func(tb testing.TB) store.Store { return newStore(tb) })
}

// BenchmarkRecordVisit: what an SSO Response writes, in one transaction.
func BenchmarkRecordVisit(b *testing.B) {
	storetest.BenchmarkRecordVisit(b, func(tb testing.TB) store.Store { return newStore(tb) })
}
