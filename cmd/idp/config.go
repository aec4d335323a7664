package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/flexidp/flexidp/internal/server"
	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/postgres"
	"github.com/flexidp/flexidp/internal/store/sqlite"
	"github.com/flexidp/flexidp/internal/users"
)

// envOr returns the environment variable or def.
func envOr(env *environment, name, def string) string {
	if v := env.getenv(name); v != "" {
		return v
	}
	return def
}

func envBool(env *environment, name string, def bool) bool {
	v := env.getenv(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return def
	}
	return b
}

func envDuration(env *environment, name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(env.getenv(name)); err == nil {
		return d
	}
	return def
}

// parseBaseURL checks IDP_BASE_URL: an absolute http(s) URL without query
// or fragment. http is accepted only for loopback hosts.
func parseBaseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("the base URL is missing: set IDP_BASE_URL (or --base-url) to the external https URL of flexidp, e.g. https://idp.example.com")
	}
	u, err := url.Parse(strings.TrimSuffix(raw, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("the base URL %q is not an absolute http(s) URL such as https://idp.example.com", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("the base URL %q must not contain a query, fragment or credentials", raw)
	}
	if u.Scheme == "http" {
		host := u.Hostname()
		if host != "localhost" && host != "127.0.0.1" && host != "::1" {
			return nil, fmt.Errorf("the base URL %q uses http: browsers and Flex need https outside localhost (put flexidp behind a TLS proxy)", raw)
		}
	}
	return u, nil
}

// endpoints derives the IdP's URLs from the base URL.
type endpoints struct{ entityID, sso, slo, metadata, certificate string }

func endpointsFor(base *url.URL) endpoints {
	b := strings.TrimSuffix(base.String(), "/")
	return endpoints{
		entityID:    b + "/saml/metadata",
		sso:         b + "/saml/sso",
		slo:         b + "/saml/slo",
		metadata:    b + "/saml/metadata",
		certificate: b + "/saml/certificate.pem",
	}
}

// migrator is implemented by every store backend.
type migrator interface {
	store.Store
	Migrate(ctx context.Context) ([]string, error)
}

// openStore opens the backend the URL names: postgres://… (or
// postgresql://…) for PostgreSQL, sqlite:///absolute/path or
// sqlite://relative/path for the embedded store.
func openStore(ctx context.Context, dbURL string) (migrator, error) {
	switch {
	case dbURL == "":
		return nil, errors.New("no database: set IDP_DATABASE_URL (or --database-url) to postgres://user:pass@host/db or sqlite:///path/to/flexidp.db")
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		return postgres.Open(ctx, dbURL)
	case strings.HasPrefix(dbURL, "sqlite://"):
		path := strings.TrimPrefix(dbURL, "sqlite://")
		if path == "" {
			return nil, errors.New("the SQLite URL has no path: use sqlite:///var/lib/flexidp/flexidp.db")
		}
		return sqlite.Open(ctx, path)
	default:
		return nil, fmt.Errorf("the database URL must start with postgres://, postgresql:// or sqlite://")
	}
}

// devDataPath is where `idp dev` keeps its data by default.
func devDataPath(env *environment) string {
	if d := env.getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "flexidp", "dev.db")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "flexidp", "dev.db")
	}
	return filepath.Join(os.TempDir(), "flexidp", "dev.db")
}

// adminDatabaseURL is the database admin commands use: IDP_DATABASE_URL,
// else the development database (with a note, so nobody edits the wrong
// one by accident).
func adminDatabaseURL(env *environment, flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	path := devDataPath(env)
	fmt.Fprintf(env.stderr, "note: IDP_DATABASE_URL is not set; using the development database %s\n", path)
	return "sqlite://" + path
}

// openAdminStore opens and migrates the store for an admin command.
func openAdminStore(ctx context.Context, env *environment, dbURL string) (migrator, error) {
	st, err := openStore(ctx, adminDatabaseURL(env, dbURL))
	if err != nil {
		return nil, err
	}
	if _, err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return st, nil
}

// databaseFlag registers --database-url, defaulting to IDP_DATABASE_URL.
func databaseFlag(env *environment, fs *flag.FlagSet) *string {
	return fs.String("database-url", envOr(env, "IDP_DATABASE_URL", ""), "postgres://… or sqlite:///path (IDP_DATABASE_URL)")
}

// openUser opens the admin store and finds the user given by email or ID;
// the caller closes the store.
func openUser(ctx context.Context, env *environment, dbURL, ref string) (migrator, users.User, error) {
	st, err := openAdminStore(ctx, env, dbURL)
	if err != nil {
		return nil, users.User{}, err
	}
	u, err := findUser(ctx, st, ref)
	if err != nil {
		st.Close()
		return nil, users.User{}, err
	}
	return st, u, nil
}

// withUser parses a command that acts on the user given by --email, opens
// the admin store, finds the user and runs act.
func withUser(ctx context.Context, env *environment, name, usage, desc string, args []string, extra func(*flag.FlagSet),
	act func(st migrator, u users.User) error) error {
	_, dbURL, email, err := userCommand(env, name, usage, desc, args, extra)
	if err != nil {
		return err
	}
	st, u, err := openUser(ctx, env, *dbURL, *email)
	if err != nil {
		return err
	}
	defer st.Close()
	return act(st, u)
}

// openSP opens the admin store and finds the service provider by name;
// the caller closes the store.
func openSP(ctx context.Context, env *environment, dbURL, name string) (migrator, sp.ServiceProvider, error) {
	st, err := openAdminStore(ctx, env, dbURL)
	if err != nil {
		return nil, sp.ServiceProvider{}, err
	}
	s, err := getSP(ctx, st, name)
	if err != nil {
		st.Close()
		return nil, sp.ServiceProvider{}, err
	}
	return st, s, nil
}

// newLogger logs JSON, or text when stderr is a terminal, at level.
func newLogger(env *environment, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "auto" {
		format = "json"
		if f, ok := env.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	switch format {
	case "json":
		return slog.New(server.LogHandler(slog.NewJSONHandler(env.stderr, opts))), nil
	case "text":
		return slog.New(server.LogHandler(slog.NewTextHandler(env.stderr, opts))), nil
	}
	return nil, fmt.Errorf("log format %q: use json, text or auto", format)
}

// defaultHashConcurrency sizes the password-hashing pool: each argon2id
// hash holds its memory (19 MiB by default) while it runs, so the pool is
// bounded by a memory budget and, for CPU, by the cores.
func defaultHashConcurrency(budgetMiB, perHashMiB int) int {
	n := budgetMiB / max(perHashMiB, 1)
	return max(1, min(n, 2*runtime.GOMAXPROCS(0)))
}

// passwordPolicy is the rule for new passwords (users.PasswordPolicy):
// the minimum length comes from IDP_PASSWORD_MIN_LENGTH, default 8 (see
// SECURITY.md, "Account recovery without email", for when to raise it).
func passwordPolicy(env *environment) (users.PasswordPolicy, error) {
	p := users.PasswordPolicy{MinLength: users.MinPasswordLength}
	if v := strings.TrimSpace(env.getenv("IDP_PASSWORD_MIN_LENGTH")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return p, fmt.Errorf("IDP_PASSWORD_MIN_LENGTH=%q: want a number of characters from %d to %d", v, users.MinPasswordLength, users.MaxMinPasswordLength)
		}
		p.MinLength = n
	}
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("IDP_PASSWORD_MIN_LENGTH: %w", err)
	}
	return p, nil
}
