package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// progressEvery is how many users are copied between progress reports.
const progressEvery = 1000

// ImportUsers upserts us by email in one transaction, in four statements
// whatever the number of users: the existing users with those emails are
// read and locked in one query, store.MergeImport decides what changes,
// the users to write are streamed with COPY into a temporary table, and
// one UPDATE and one INSERT move them into users.
func (s *Store) ImportUsers(ctx context.Context, us []users.User) (store.ImportResult, error) {
	var res store.ImportResult
	if err := store.CheckImportEmails(us); err != nil {
		return res, err
	}
	report := store.ImportProgress(ctx)
	now := s.stamp()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		existing, err := lockExisting(ctx, tx, us)
		if err != nil {
			return err
		}
		rows := make([][]any, 0, len(us))
		for i, u := range us {
			old, found := existing[i]
			u, write, err := res.Add(old, found, u, now)
			if err != nil {
				return err
			}
			if !write {
				continue
			}
			args, err := userRecord.args(&u)
			if err != nil {
				return fmt.Errorf("user %s: %w", u.Email, err)
			}
			rows = append(rows, append(args, !found))
		}
		if len(rows) > 0 {
			if err := writeImport(ctx, tx, rows, len(us)-len(rows), len(us), report); err != nil {
				return err
			}
		}
		report(len(us), len(us))
		return nil
	})
	if err != nil {
		return store.ImportResult{}, wrap("import users", err)
	}
	if res.Created >= analyzeAfter {
		// The planner's statistics would otherwise describe the table before
		// the import until autovacuum's next round: the users page would sort
		// the whole table for a filter it believes matches nobody. A failure
		// here leaves the import done and the statistics as they were.
		_, _ = s.pool.Exec(ctx, `ANALYZE users`)
	}
	return res, nil
}

// analyzeAfter is how many new users make ImportUsers refresh the
// planner's statistics of users.
const analyzeAfter = 1000

// lockExisting returns, by index into us, the stored users whose email
// matches, locked until the transaction ends so that a concurrent update
// (a sign-in upgrading a hash) is not lost. PostgreSQL lower-cases both
// sides, as the unique index does.
func lockExisting(ctx context.Context, tx pgx.Tx, us []users.User) (map[int]users.User, error) {
	emails := make([]string, len(us))
	for i, u := range us {
		emails[i] = u.Email
	}
	cols := "u." + strings.Join(userRecord.Cols, ", u.")
	rows, err := tx.Query(ctx, `SELECT i.n, `+cols+`
		FROM unnest($1::text[]) WITH ORDINALITY AS i(email, n)
		JOIN users u ON lower(u.email COLLATE "und-x-icu") = lower(i.email COLLATE "und-x-icu")
		ORDER BY u.id FOR UPDATE OF u`, emails)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[int]users.User)
	for rows.Next() {
		var n int64 // 1-based, from WITH ORDINALITY
		u, err := userRecord.scan(numberedRow{rows, &n})
		if err != nil {
			return nil, err
		}
		out[int(n-1)] = u
	}
	return out, rows.Err()
}

// numberedRow reads a leading row number, then lets userRecord.scan read
// the user columns that follow.
type numberedRow struct {
	pgx.CollectableRow
	n *int64
}

func (r numberedRow) Scan(dest ...any) error {
	return r.CollectableRow.Scan(append([]any{r.n}, dest...)...)
}

// writeImport copies rows (the user columns, then is_new) into a temporary
// table and applies them: existing users are updated by ID, new ones
// inserted, so that a new user whose ID is taken fails with ErrConflict
// instead of overwriting someone else.
func writeImport(ctx context.Context, tx pgx.Tx, rows [][]any, skipped, total int, report func(done, total int)) error {
	if _, err := tx.Exec(ctx, `CREATE TEMPORARY TABLE import_users (LIKE users, is_new boolean NOT NULL) ON COMMIT DROP`); err != nil {
		return err
	}
	src := &progressSource{rows: rows, i: -1, report: func(done int) { report(skipped+done, total) }}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_users"}, slices.Concat(userRecord.Cols, []string{"is_new"}), src); err != nil {
		return err
	}
	cols := strings.Join(userRecord.Cols[1:], ", ")
	if _, err := tx.Exec(ctx, `UPDATE users u SET (`+cols+`) = (i.`+strings.Join(userRecord.Cols[1:], ", i.")+`)
		FROM import_users i WHERE NOT i.is_new AND u.id = i.id`); err != nil {
		return err
	}
	all := strings.Join(userRecord.Cols, ", ")
	_, err := tx.Exec(ctx, `INSERT INTO users (`+all+`) SELECT `+all+` FROM import_users WHERE is_new`)
	return err
}

// progressSource is pgx.CopyFromRows that reports every progressEvery rows.
type progressSource struct {
	rows   [][]any
	i      int
	report func(done int)
}

func (p *progressSource) Next() bool {
	p.i++
	if p.i%progressEvery == 0 && p.i > 0 {
		p.report(p.i)
	}
	return p.i < len(p.rows)
}

func (p *progressSource) Values() ([]any, error) { return p.rows[p.i], nil }
func (p *progressSource) Err() error             { return nil }
