// Package sqlitetest opens throwaway embedded stores for tests: a real
// SQLite file, migrated, closed when the test ends.
package sqlitetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/flexidp/flexidp/internal/store/sqlite"
)

// New opens a new, migrated store in a file of its own in t.TempDir().
func New(t testing.TB) *sqlite.Store {
	t.Helper()
	return Open(t, filepath.Join(t.TempDir(), "idp.db"))
}

// Open opens the store at path (creating and migrating it as needed) and
// closes it when the test ends.
func Open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}
