package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/group"
)

// Store is a store.Store kept in one SQLite database file. It is safe for
// concurrent use. Create it with Open and prepare its schema with Migrate.
type Store struct {
	// w holds the one connection that writes: concurrent writers of this
	// process wait for it in database/sql, in order, rather than polling
	// the file lock.
	w *db
	// r is a read-only pool; in WAL mode its readers see the last
	// committed state and never block the writer or each other.
	r *db
	// now is the clock for the timestamps the store sets.
	now func() time.Time
	// prune says when RecordVisit next deletes expired replay records.
	prune pruneClock
	// committed, when set (by tests), is told how many statements each
	// committed write ran (each write of a group commit apart).
	committed func(statements int)
	// group is RecordVisit's group commit (writeGrouped).
	group group.Group[func(tx *txn) error]
}

var _ store.Store = (*Store)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	now func() time.Time
}

// WithClock sets the clock that stamps CreatedAt/UpdatedAt and decides
// whether a ConsumeOnce record has expired. The default is time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// busyTimeout is how long a write waits for another process holding the
// database lock before it fails.
const busyTimeout = 10 * time.Second

// Open opens, creating it if missing, the SQLite database file at path and
// the directory that holds it (mode 0700). path names a file; ":memory:" is
// refused because the store uses more than one connection. Call Migrate
// before first use.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	s, err := open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open SQLite database at %s: %w", path, err)
	}
	s.now = o.now
	return s, nil
}

func open(ctx context.Context, path string) (*Store, error) {
	if path == "" || path == ":memory:" {
		return nil, errors.New("a database file path is required")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, err
	}

	w, err := sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	// The writer connects first: it is the one that may have to create the
	// file and switch it to WAL.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, err
	}

	r, err := sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		w.Close()
		return nil, err
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	return &Store{w: newDB(w), r: newDB(r)}, nil
}

// dsn builds the driver's data source name for the file at abs. The path is
// given as a file: URI so that any character in it ('?', '#', '%') is
// escaped rather than read as the start of the parameters.
func dsn(abs string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	if u.Path[0] != '/' { // Windows: C:/... becomes /C:/...
		u.Path = "/" + u.Path
	}
	return u.String()
}

// Ping reports whether the database can be reached.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("ping SQLite: %w", err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("ping SQLite: %w", err)
	}
	return nil
}

// Close closes the database; in-flight calls finish first.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// querier is what db and tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// write runs fn in one IMMEDIATE transaction on the writer connection and
// commits it if fn returns nil. fn's error is returned as is, so an
// updater's error reaches the caller unchanged.
func (s *Store) write(ctx context.Context, fn func(tx *txn) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin SQLite transaction: %w", err)
	}
	defer tx.prepareMissed(ctx)
	// Undone unless committed, whatever fn did (a panic too), so that the
	// writer's one connection is never left in a transaction; after
	// Commit this is a no-op.
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.flushAudit(ctx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit SQLite transaction: %w", err)
	}
	if s.committed != nil {
		s.committed(tx.ran)
	}
	return nil
}

// exec runs one statement on the writer and returns the number of rows it
// changed.
func (s *Store) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := s.w.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// sqliteCode returns the extended SQLite result code of err, or 0.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	switch sqliteCode(err) {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}

// isForeignKey reports whether err is a FOREIGN KEY violation: the row
// refers to a user or SP that does not exist.
func isForeignKey(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// wrap turns a driver error into a store error: op says what was being
// done. Missing rows become store.ErrNotFound, unique violations
// store.ErrConflict, and dangling references store.ErrNotFound; other
// errors keep their detail.
func wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict):
		return err
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	case isUnique(err):
		return fmt.Errorf("%s: %w (%s)", op, store.ErrConflict, constraint(err))
	case isForeignKey(err):
		return fmt.Errorf("%s: referenced record %w", op, store.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// constraint returns the columns a constraint error names ("users.email_key"
// of "UNIQUE constraint failed: users.email_key (2067)"), for the message.
func constraint(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "constraint failed: "); i >= 0 {
		msg = msg[i+len("constraint failed: "):]
	}
	if i := strings.LastIndex(msg, " ("); i > 0 {
		msg = msg[:i]
	}
	return msg
}

// notFoundIfNone returns store.ErrNotFound when a statement changed no rows.
func notFoundIfNone(op string, n int64, err error) error {
	if err != nil {
		return wrap(op, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	return nil
}
