package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/server"
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

// baseURLFor is the base URL a CLI command prints links and values with:
// the flag (or IDP_BASE_URL) when given, else the one the server last ran
// with on this database (idp serve and idp dev store it), so the CLI and
// the running server agree.
func baseURLFor(ctx context.Context, svc *accounts.Service, flagValue string) (*url.URL, error) {
	if flagValue != "" {
		return parseBaseURL(flagValue)
	}
	stored, err := svc.BaseURL(ctx)
	if err != nil {
		return nil, err
	}
	if stored == "" {
		_, err := parseBaseURL("")
		return nil, fmt.Errorf("%w; idp serve and idp dev also record theirs in the database, but none has run on this one yet", err)
	}
	return parseBaseURL(stored)
}

// endpoints derives the IdP's URLs from the base URL.
type endpoints struct{ entityID, sso, slo, metadata, certificate string }

func endpointsFor(base *url.URL) endpoints {
	e := accounts.EndpointsFor(base)
	return endpoints{entityID: e.EntityID, sso: e.SSO, slo: e.SLO, metadata: e.Metadata, certificate: e.Certificate}
}

// migrator is implemented by every store backend.
type migrator interface {
	store.Store
	Migrate(ctx context.Context) ([]string, error)
}

// openStore opens the backend the URL names: postgres://… (or
// postgresql://…) for PostgreSQL, sqlite:///absolute/path for the embedded
// store. It creates a missing SQLite file: only serve, migrate and dev
// call it directly; admin commands go through openAdminStore.
func openStore(ctx context.Context, dbURL string) (migrator, error) {
	switch {
	case dbURL == "":
		return nil, errors.New("no database: set IDP_DATABASE_URL (or --database-url) to postgres://user:pass@host/db or sqlite:///path/to/flexidp.db")
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		return postgres.Open(ctx, dbURL)
	case strings.HasPrefix(dbURL, "sqlite:"):
		path, err := sqlitePath(dbURL)
		if err != nil {
			return nil, err
		}
		return sqlite.Open(ctx, path)
	default:
		return nil, fmt.Errorf("the database URL must start with postgres://, postgresql:// or sqlite://")
	}
}

// sqlitePath returns the file a sqlite: URL names. Only the absolute form
// sqlite:///path is accepted: in sqlite://tmp/x.db, "tmp" reads as a host
// to some and as a relative directory to others, and a wrong guess
// silently creates an empty database somewhere else.
func sqlitePath(dbURL string) (string, error) {
	path, ok := strings.CutPrefix(dbURL, "sqlite://")
	switch {
	case !ok:
		return "", fmt.Errorf("the SQLite URL %q must be sqlite:///absolute/path/to/flexidp.db (three slashes)", dbURL)
	case path == "":
		return "", errors.New("the SQLite URL has no path: use sqlite:///var/lib/flexidp/flexidp.db")
	case !filepath.IsAbs(path):
		return "", fmt.Errorf("the SQLite URL %q is ambiguous: write the absolute path after sqlite:// (three slashes: sqlite:///%s for /%s), or give a file relative to the current directory with --data %s",
			dbURL, path, path, path)
	}
	return path, nil
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

// devData is the SQLite file of `idp dev` when none is given: IDP_DEV_DATA,
// else devDataPath.
func devData(env *environment) string { return envOr(env, "IDP_DEV_DATA", devDataPath(env)) }

// adminDatabaseURL is the database admin commands use: the flag
// (--database-url or --data), else IDP_DATABASE_URL, else the development
// database of `idp dev` (with a note, so nobody edits the wrong one by
// accident).
func adminDatabaseURL(env *environment, flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	path := devData(env)
	fmt.Fprintf(env.stderr, "note: IDP_DATABASE_URL is not set; using the development database %s\n", path)
	return "sqlite://" + path
}

// openAdminStore opens and migrates the store for an admin command. It
// refuses a SQLite database that does not exist yet: an admin command with
// a mistyped path would otherwise create an empty one and report empty
// lists. Only serve, migrate and dev create databases.
func openAdminStore(ctx context.Context, env *environment, dbURL string) (migrator, error) {
	dbURL = adminDatabaseURL(env, dbURL)
	if strings.HasPrefix(dbURL, "sqlite:") {
		path, err := sqlitePath(dbURL)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s: create it with `idp migrate --database-url sqlite://%s`, or start `idp dev --data %s` once; check the path if you meant an existing one",
				path, path, path)
		} else if err != nil {
			return nil, fmt.Errorf("database %s: %w", path, err)
		}
	}
	st, err := openStore(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	if _, err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return st, nil
}

// databaseFlag registers --database-url, defaulting to IDP_DATABASE_URL,
// and --data, the SQLite file of `idp dev --data` (the same flag, so the
// command `idp dev` prints works as printed). The value is a database URL.
func databaseFlag(env *environment, fs *flag.FlagSet) *string {
	dbURL := envOr(env, "IDP_DATABASE_URL", "")
	var byURL, byData bool
	fs.Func("database-url", "postgres://… or sqlite:///path (IDP_DATABASE_URL)", func(v string) error {
		if byData {
			return errors.New("give --database-url or --data, not both")
		}
		dbURL, byURL = v, true
		return nil
	})
	fs.Func("data", "the SQLite file of `idp dev --data` (default: IDP_DEV_DATA or the development database, when IDP_DATABASE_URL is not set)", func(v string) error {
		if byURL {
			return errors.New("give --database-url or --data, not both")
		}
		abs, err := filepath.Abs(v)
		if err != nil || v == "" {
			return fmt.Errorf("%q is not a file path", v)
		}
		dbURL, byData = "sqlite://"+abs, true
		return nil
	})
	return &dbURL
}

// userCmd is an admin command that acts on one user, given by --email (an
// email address or an ID).
type userCmd struct {
	name, usage, desc string
	// flags registers the command's own flags; may be nil.
	flags func(*flag.FlagSet)
	// free: NAME... arguments follow the flags (see positional).
	free bool
	// check validates the flags and arguments before the database is
	// opened; may be nil.
	check func(*flag.FlagSet) error
	// mail reports whether password links are emailed (IDP_SMTP_*); nil
	// means never.
	mail func() bool
}

// onUserRef runs c: it parses the flags, opens the account service, calls
// act with the user reference given by --email, and closes the store.
// Every rule is the service's; act only calls it and prints.
func onUserRef(ctx context.Context, env *environment, c userCmd, args []string, act func(svc *accounts.Service, ref string) error) error {
	if c.free {
		args = argsBeforePositional(args)
	}
	fs, dbURL, ref, err := userCommand(env, c.name, c.usage, c.desc, args, c.flags)
	if err != nil {
		return err
	}
	if c.check != nil {
		if err := c.check(fs); err != nil {
			return err
		}
	}
	return withMailService(ctx, env, *dbURL, c.mail != nil && c.mail(), func(svc *accounts.Service) error { return act(svc, *ref) })
}

// withUser is onUserRef for a command that must name the user it acts
// on: act gets the user the reference finds.
func withUser(ctx context.Context, env *environment, c userCmd, args []string, act func(svc *accounts.Service, u users.User) error) error {
	return onUserRef(ctx, env, c, args, func(svc *accounts.Service, ref string) error {
		u, err := svc.FindUser(ctx, ref)
		if err != nil {
			return err
		}
		return act(svc, u)
	})
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
		if isTerminal(env.stderr) {
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

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
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

// brandingOptions are the organisation's name, logo, accent colour and
// support line shown on every page.
type brandingOptions struct{ orgName, logoFile, accent, support string }

func (b *brandingOptions) register(env *environment, fs interface {
	StringVar(*string, string, string, string)
}) {
	fs.StringVar(&b.orgName, "org-name", envOr(env, "IDP_ORG_NAME", ""), "organisation name shown on every page and in titles (IDP_ORG_NAME)")
	fs.StringVar(&b.logoFile, "org-logo-file", envOr(env, "IDP_ORG_LOGO_FILE", ""), "PNG, JPEG, GIF or WebP logo (≤ 256 KiB) shown on every page, served at /branding/logo (IDP_ORG_LOGO_FILE)")
	fs.StringVar(&b.accent, "accent-colour", envOr(env, "IDP_ACCENT_COLOUR", ""), "#rrggbb colour of buttons and links; white text on it must reach WCAG AA contrast (IDP_ACCENT_COLOUR)")
	fs.StringVar(&b.support, "support-contact", envOr(env, "IDP_SUPPORT_CONTACT", ""), "one line shown at the foot of every page, e.g. 'Help: it-help@example.com or ext. 4357' (IDP_SUPPORT_CONTACT)")
}

// load reads the logo and checks every setting: a bad one stops the
// start with a sentence naming it.
func (b brandingOptions) load() (server.Branding, error) {
	br := server.Branding{OrgName: b.orgName, AccentColour: b.accent, SupportContact: b.support}
	if b.logoFile != "" {
		logo, err := server.ReadLogo(b.logoFile)
		if err != nil {
			return server.Branding{}, err
		}
		br.Logo = logo
	}
	return br, br.Validate()
}
