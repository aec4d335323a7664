package pgtest_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/flexidp/flexidp/internal/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestURLGivesFreshDatabases(t *testing.T) {
	seen := map[string]bool{}
	for range 2 {
		conn, err := pgx.Connect(t.Context(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(t.Context()) })
		var db string
		var tables int
		err = conn.QueryRow(t.Context(), `SELECT current_database(),
			(SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public')`).Scan(&db, &tables)
		if err != nil {
			t.Fatal(err)
		}
		if seen[db] {
			t.Errorf("database %s handed out twice", db)
		}
		seen[db] = true
		if tables != 0 {
			t.Errorf("database %s has %d tables, want an empty one", db, tables)
		}
		// The database is the test's own: create something in it.
		if _, err := conn.Exec(t.Context(), "CREATE TABLE t (id int)"); err != nil {
			t.Fatal(err)
		}
	}
}
