// Package postgres is the PostgreSQL backend of store.Store, built on pgx.
//
// Open connects; Migrate brings the schema (migrations/postgres) up to date
// and is safe to run from several replicas at once. Uniqueness and the
// single active signing key are enforced by the database, so replicas
// sharing one database stay consistent.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/group"
)

// Store is a store.Store backed by a PostgreSQL connection pool.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time
	// visits is RecordVisit's group commit.
	visits group.Group[visit]
}

var _ store.Store = (*Store)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	now      func() time.Time
	maxConns int32
}

// WithClock sets the clock that stamps CreatedAt/UpdatedAt and decides
// whether a ConsumeOnce record has expired. The default is time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithMaxConns caps the pool size; the default is pgxpool's (the larger of
// 4 and the number of CPUs) unless the URL sets pool_max_conns.
func WithMaxConns(n int32) Option { return func(o *options) { o.maxConns = n } }

// Open connects to the database at url (postgres://user:pass@host:port/db?...
// or a keyword/value string; pgxpool's pool_* parameters are honoured) and
// checks that it answers. It does not migrate the schema: call Migrate.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parser's error can quote the string, password included.
		return nil, errors.New("parse PostgreSQL connection string: invalid syntax (postgres://user:password@host:port/database?sslmode=...)")
	}
	if o.maxConns > 0 {
		cfg.MaxConns = o.maxConns
	}
	addr := net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port)))
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL at %s: %w", addr, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL at %s: %w", addr, err)
	}
	return &Store{pool: pool, now: o.now}, nil
}

// Pool returns the underlying pool, for metrics and health checks. Callers
// must not close it; call Close.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping PostgreSQL: %w", err)
	}
	return nil
}

// Close closes every connection of the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// stamp is the store's current time, as stored.
func (s *Store) stamp() time.Time { return ts(s.now()) }

// ts normalizes a time the way the store returns it: UTC, microseconds.
func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// SQLSTATE codes the store maps to its errors.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// wrap turns a driver error into the store's: no rows and a missing
// referenced row are ErrNotFound, a unique violation is ErrConflict; other
// errors keep their cause. op says what failed ("get user").
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case uniqueViolation:
			return fmt.Errorf("%s: %w (%s)", op, store.ErrConflict, pgErr.ConstraintName)
		case foreignKeyViolation:
			return fmt.Errorf("%s: referenced record %w (%s)", op, store.ErrNotFound, pgErr.ConstraintName)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// affected turns "no row changed" into ErrNotFound.
func affected(op string, tag pgconn.CommandTag, err error) error {
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return wrap(op, err)
}
