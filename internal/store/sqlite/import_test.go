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
