package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"

	"github.com/flexidp/flexidp/internal/store"
)

// maxStmts bounds the statements a pool keeps prepared. The store's
// statements are a fixed set of texts; a caller building texts without
// end (lists of placeholders of every length) gets the rest unprepared
// rather than a cache that grows without bound.
const maxStmts = 512

// db is a pool whose statements are prepared once and reused: SQLite
// compiles a statement (sqlite3_prepare_v2) in about as much time as it
// takes to run one of the store's, and database/sql given a query string
// compiles it on every call. The cache is keyed by the SQL text; each
// *sql.Stmt is prepared on a connection the first time it runs there.
// ExecContext, QueryContext and QueryRowContext take the cached statement;
// the embedded *sql.DB's other methods are as they are.
type db struct {
	*sql.DB
	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
	// uncached runs every text unprepared, as database/sql does: the
	// baseline of BenchmarkGetSessionUser.
	uncached bool
}

func newDB(d *sql.DB) *db { return &db{DB: d, stmts: map[string]*sql.Stmt{}} }

// cached returns the prepared statement of query, or nil when it has none.
func (d *db) cached(query string) *sql.Stmt {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.stmts[query]
}

// stmt returns the prepared statement of query, preparing it on first use;
// nil (run the text unprepared) when the cache is full. The lock is not
// held while preparing: that waits for a connection, which on the writer
// may be held by a transaction asking for another statement.
func (d *db) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := d.cached(query); st != nil {
		return st, nil
	}
	d.mu.RLock()
	full := d.uncached || len(d.stmts) >= maxStmts
	d.mu.RUnlock()
	if full {
		return nil, nil
	}
	st, err := d.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if have := d.stmts[query]; have != nil { // prepared meanwhile by another caller
		_ = st.Close()
		return have, nil
	}
	if len(d.stmts) >= maxStmts {
		_ = st.Close()
		return nil, nil
	}
	d.stmts[query] = st
	return st, nil
}

// ExecContext runs query's prepared statement.
func (d *db) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := d.stmt(ctx, query)
	if err != nil || st == nil {
		return d.DB.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

// QueryContext runs query's prepared statement.
func (d *db) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := d.stmt(ctx, query)
	if err != nil || st == nil {
		return d.DB.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext runs query's prepared statement.
func (d *db) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := d.stmt(ctx, query)
	if err != nil || st == nil {
		return d.DB.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// BeginTx begins a transaction whose statements come from d's cache.
func (d *db) BeginTx(ctx context.Context, opts *sql.TxOptions) (*txn, error) {
	t, err := d.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &txn{Tx: t, db: d}, nil
}

// Close closes the prepared statements, then the pool.
func (d *db) Close() error {
	d.mu.Lock()
	var errs []error
	for q, st := range d.stmts {
		errs = append(errs, st.Close())
		delete(d.stmts, q)
	}
	d.mu.Unlock()
	return errors.Join(append(errs, d.DB.Close())...)
}

// tx is a transaction that runs the cached statements of its pool
// (sql.Tx.StmtContext: the statement already prepared on the
// transaction's connection is reused). A statement the pool has not
// prepared yet runs unprepared here, because the transaction holds the
// writer's only connection, and is prepared on the pool once the
// transaction ends (prepareMissed).
type txn struct {
	*sql.Tx
	db     *db
	missed []string
	ran    int // statements run, for Store.committed
	// audit are the events queued to be written just before the commit
	// (queueAudit, flushAudit).
	audit []store.AuditEvent
}

func (t *txn) stmt(ctx context.Context, query string) *sql.Stmt {
	t.ran++
	st := t.db.cached(query)
	if st == nil {
		t.missed = append(t.missed, query)
		return nil
	}
	return t.Tx.StmtContext(ctx, st)
}

// ExecContext runs query's cached statement in the transaction.
func (t *txn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

// QueryContext runs query's cached statement in the transaction.
func (t *txn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs query's cached statement in the transaction.
func (t *txn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}

// prepareMissed prepares, once the transaction has ended and its
// connection is free, the statements it ran unprepared. A statement that
// does not prepare is left to run unprepared.
func (t *txn) prepareMissed(ctx context.Context) {
	for _, q := range t.missed {
		_, _ = t.db.stmt(ctx, q)
	}
	t.missed = nil
}
