package sqlite

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/flexidp/flexidp/migrations"
)

// Migrate brings the schema up to date with the migrations embedded in the
// binary (migrations.SQLite) and returns the versions it applied, oldest
// first; none when the schema is current. Each migration runs in its own
// transaction together with its schema_migrations row, so it is applied
// entirely or not at all, and two processes migrating at once apply it
// once.
func (s *Store) Migrate(ctx context.Context) (applied []string, err error) {
	fsys, err := fs.Sub(migrations.SQLite, "sqlite")
	if err != nil {
		return nil, fmt.Errorf("migrate SQLite: %w", err)
	}
	return s.migrate(ctx, fsys)
}

// migrate applies the *.sql files of fsys in name order.
func (s *Store) migrate(ctx context.Context, fsys fs.FS) ([]string, error) {
	if _, err := s.w.DB.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    TEXT    NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return nil, fmt.Errorf("migrate SQLite: create schema_migrations: %w", err)
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("migrate SQLite: %w", err)
	}
	sort.Strings(names)
	var applied []string
	for _, name := range names {
		version := strings.TrimSuffix(name, ".sql")
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return applied, fmt.Errorf("migrate SQLite: %w", err)
		}
		done := false
		err = s.write(ctx, func(tx *txn) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`,
				version).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := tx.Tx.ExecContext(ctx, string(body)); err != nil { // once: not cached
				return err
			}
			done = true
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
				version, micros(s.nowUTC()))
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migrate SQLite: apply %s: %w", name, err)
		}
		if done {
			applied = append(applied, version)
		}
	}
	return applied, nil
}
