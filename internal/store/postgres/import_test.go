package postgres_test

import (
	"testing"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/pgtest"
	"github.com/flexidp/flexidp/internal/store/postgres"
	"github.com/flexidp/flexidp/internal/store/storetest"
)

// BenchmarkImport100k imports 100,000 users into a fresh database (see
// pgtest for where the server comes from). Run:
// go test -run '^$' -bench Import100k -benchtime 1x ./internal/store/postgres
func BenchmarkImport100k(b *testing.B) {
	storetest.BenchmarkImport(b, 100_000, benchStore)
}

// benchStore is a migrated store on a fresh database.
func benchStore(tb testing.TB) store.Store {
	s, err := postgres.Open(tb.Context(), pgtest.URL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	return s
}

// BenchmarkSearchUsers100k measures the users page's queries on 100,000
// users. Run:
// go test -run '^$' -bench SearchUsers100k -benchtime 20x ./internal/store/postgres
func BenchmarkSearchUsers100k(b *testing.B) {
	storetest.BenchmarkSearch(b, benchStore)
}

// BenchmarkSignInReads: the SSO's and a password sign-in's reads, one
// statement each against the same reads one by one. Run:
// go test -run '^$' -bench SignInReads ./internal/store/postgres
func BenchmarkSignInReads(b *testing.B) {
	storetest.BenchmarkSignInReads(b, benchStore)
}

// BenchmarkRecordVisit: what an SSO Response writes, in one statement.
// Run: go test -run '^$' -bench RecordVisit ./internal/store/postgres
func BenchmarkRecordVisit(b *testing.B) {
	storetest.BenchmarkRecordVisit(b, benchStore)
}
