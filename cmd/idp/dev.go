package main

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/keys"
	"github.com/flexidp/flexidp/internal/saml"
	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// devUser is a demo user seeded by `idp dev`.
type devUser struct {
	email, name, roles, team string
	attrs                    []string // name, value pairs
	console                  users.ConsoleRole
}

var devUsers = []devUser{
	{email: "admin@example.com", name: "Ada Admin", roles: "admin", console: users.ConsoleOwner},
	{email: "supervisor@example.com", name: "Sam Supervisor", roles: "supervisor,agent", team: "Sales"},
	{email: "agent@example.com", name: "Alex Agent", roles: "agent"},
	{email: "team-agent@example.com", name: "Tina Teamagent", roles: "agent", team: "Sales", attrs: []string{
		"channel.chat.capacity", "3",
		"channel.voice.availability", "true",
		"department", "Sales",
		"location", "London",
		"languages.stringarray", "en,de",
	}},
}

func runDev(ctx context.Context, env *environment, args []string) error {
	o := serveOptions{listen: "localhost:8080", dev: true}
	fs := newFlags(env, "idp dev", "[flags]", `Run a development IdP on an embedded SQLite store: demo users for each role,
the Flex SP from --acs, and the Twilio Console values printed. Data survives restarts;
--reset starts clean. Not for production: use idp serve with PostgreSQL.`)
	o.register(env, fs)
	data := fs.String("data", devData(env), "SQLite database file (IDP_DEV_DATA); admin commands take the same --data")
	reset := fs.Bool("reset", false, "delete the development data first")
	acs := fs.String("acs", envOr(env, "IDP_FLEX_ACS", ""), "Flex ACS URL to register (Enhanced or Legacy SSO) (IDP_FLEX_ACS)")
	audience := fs.String("audience", "", "SP entity ID when it cannot be derived from --acs")
	redirect := fs.String("default-redirect-url", envOr(env, "IDP_FLEX_DEFAULT_REDIRECT_URL", ""), "Flex Default Redirect URL, e.g. http://localhost:3000")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if o.baseURL == "" {
		o.baseURL = "http://" + devHostPort(o.listen)
	}
	if abs, err := filepath.Abs(*data); err == nil {
		*data = abs // the database URL and the printed commands name it absolutely
	}
	if *reset {
		for _, suffix := range []string{"", "-wal", "-shm", ".password"} {
			if err := os.Remove(*data + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("reset: %w", err)
			}
		}
	}
	o.databaseURL = "sqlite://" + *data
	o.devData = *data
	base, err := parseBaseURL(o.baseURL)
	if err != nil {
		return err
	}
	// Bind before printing anything: a banner followed by "address
	// already in use" reads as if the IdP were running.
	if o.listener, err = listen(o.listen); err != nil {
		return err
	}
	st, err := openStore(ctx, o.databaseURL)
	if err != nil {
		o.listener.Close()
		return err
	}
	if _, err := st.Migrate(ctx); err != nil {
		st.Close()
		o.listener.Close()
		return fmt.Errorf("migrate: %w", err)
	}
	err = prepareDev(ctx, env, st, o, base, *data, *acs, *audience, *redirect)
	st.Close()
	if err != nil {
		o.listener.Close()
		return err
	}
	o.migrate = false
	return serve(ctx, env, o)
}

// prepareDev seeds the development store through the account service,
// makes sure it has a signing key and prints the banner.
func prepareDev(ctx context.Context, env *environment, st store.Store, o serveOptions, base *url.URL, data, acs, audience, redirect string) error {
	policy, err := passwordPolicy(env)
	if err != nil {
		return err
	}
	// The seeding is recorded in the audit trail like any admin change; at a
	// terminal its log lines would only bury the banner (see cliAuditLog).
	svc := accounts.New(accounts.Config{Store: st, Log: cliAuditLog(env), Passwords: policy})
	password, err := seedDev(ctx, env, svc, data, acs, audience, redirect)
	if err != nil {
		return err
	}
	sealer, err := keys.NewSealer(o.keyEncryption)
	if err != nil {
		return err
	}
	ks, err := keys.Current(ctx, keys.LoaderConfig{Store: st, Sealer: sealer, CommonName: endpointsFor(base).entityID})
	if err != nil {
		return err
	}
	sps, err := svc.ListSPs(ctx)
	if err != nil {
		return err
	}
	printDevBanner(env, base, ks, sps, data, password, o.hardening.mfaRoles)
	return nil
}

// devHostPort turns a listen address into the host:port a browser uses.
func devHostPort(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" || host == "127.0.0.1" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// seedDev creates the demo users (once; their password is kept beside the
// database so it can be shown on every start) and registers the Flex SP,
// through the service: the demo password meets the password policy in
// force, and each change is in the audit trail.
func seedDev(ctx context.Context, env *environment, svc *accounts.Service, data, acs, audience, redirect string) (string, error) {
	password, err := devPassword(data+".password", max(devPasswordLength, svc.PasswordPolicy().MinLength))
	if err != nil {
		return "", err
	}
	for _, d := range devUsers {
		if _, err := svc.FindUser(ctx, d.email); err == nil {
			continue
		} else if accounts.ErrorCode(err) != accounts.NotFound {
			return "", err
		}
		roles, err := attributes.ParseRoles(d.roles)
		if err != nil {
			return "", err
		}
		attrs, err := attributes.SetOf(d.attrs...)
		if err != nil {
			return "", err
		}
		u, err := svc.CreateUser(ctx, env.admin(), accounts.NewUser{Password: password,
			User: users.User{Email: d.email, FullName: d.name, Roles: roles, Team: d.team, Attributes: attrs}})
		switch accounts.ErrorCode(err) {
		case accounts.Conflict: // created meanwhile
			continue
		case accounts.Invalid:
			return "", fmt.Errorf("demo user %s: %w; start with --reset for a new demo password", d.email, err)
		default:
			if err != nil {
				return "", err
			}
		}
		if d.console != users.ConsoleNone {
			if _, err := svc.Grant(ctx, env.admin(), u.ID, d.console); err != nil {
				return "", fmt.Errorf("demo user %s: %w", d.email, err)
			}
		}
	}
	if acs == "" {
		return password, nil
	}
	return password, seedDevSP(ctx, env, svc, data, acs, audience, redirect)
}

// devPasswordLength is the length of the demo password, unless the
// password policy asks for more.
const devPasswordLength = 16

// devPassword reads the demo password from file, or makes a random one
// of n characters and writes it there.
func devPassword(file string, n int) (string, error) {
	if b, err := os.ReadFile(file); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	b := make([]byte, (n*5+7)/8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	password := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:n]
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(file, []byte(password+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", file, err)
	}
	return password, nil
}

// seedDevSP registers the Flex SP of --acs, or points the registered one
// at it (saying so when that replaces another Flex account).
func seedDevSP(ctx context.Context, env *environment, svc *accounts.Service, data, acs, audience, redirect string) error {
	want, err := flexSP("flex", acs, audience)
	if err != nil {
		return err
	}
	want.DefaultRedirectURL = redirect
	cur, err := svc.GetSP(ctx, "flex")
	if accounts.ErrorCode(err) == accounts.NotFound {
		_, err = svc.CreateSP(ctx, env.admin(), want)
		return err
	} else if err != nil {
		return err
	}
	if cur.EntityID == want.EntityID && slices.Equal(cur.ACSURLs, want.ACSURLs) && (redirect == "" || redirect == cur.DefaultRedirectURL) {
		return nil // nothing to change, nothing to record
	}
	var before sp.ServiceProvider
	if _, err := svc.UpdateSP(ctx, env.admin(), "flex", func(s *sp.ServiceProvider) error {
		before = *s
		s.EntityID, s.ACSURLs = want.EntityID, want.ACSURLs
		if redirect != "" {
			s.DefaultRedirectURL = redirect
		}
		return nil
	}); err != nil {
		return err
	}
	if before.EntityID != want.EntityID || !slices.Equal(before.ACSURLs, want.ACSURLs) {
		fmt.Fprintf(env.stderr, "note: --acs replaced the Flex service provider of %s:\n  was: %s (ACS %s)\n  now: %s (ACS %s)\n"+
			"  Sign-ins from the previous Flex account are now refused; keep both with `idp sp add-flex --data %s --name flex2 --acs …`.\n",
			data, before.EntityID, strings.Join(before.ACSURLs, ", "), want.EntityID, strings.Join(want.ACSURLs, ", "), shellQuote(data))
	}
	return nil
}

func printDevBanner(env *environment, u *url.URL, ks *saml.KeySet, sps []sp.ServiceProvider, data, password, mfaRoles string) {
	base := u.String()
	w := env.stdout
	fmt.Fprintf(w, "\nflexidp development IdP — %s\n\nDemo users (password %q):\n", base, password)
	for _, d := range devUsers {
		extra := ""
		if d.team != "" {
			extra = ", team " + d.team
		}
		if len(d.attrs) > 0 {
			extra += ", channel capacities and Insights fields"
		}
		if d.console != users.ConsoleNone {
			extra += ", admin console " + string(d.console)
		}
		fmt.Fprintf(w, "  %-24s %s%s\n", d.email, d.roles, extra)
	}
	if slices.Contains(strings.Split(strings.ReplaceAll(mfaRoles, " ", ""), ","), "admin") {
		fmt.Fprintln(w, "  admin@example.com sets up two-step verification (TOTP, QR code) at its first sign-in;\n  start with --mfa-required-roles none to skip that in development.")
	}
	fmt.Fprintf(w, "\nAdmin console: %s/admin — sign in as admin@example.com (console owner); the console always\n  takes a second factor: it sets up TOTP (QR code) at the first console sign-in.\n", strings.TrimSuffix(base, "/"))
	fmt.Fprintln(w)
	dataFlag := " --data " + shellQuote(data)
	printSetupValues(w, u, ks, sps, dataFlag)
	fmt.Fprintf(w, "\n  Trusted domain (Flex Console, for a local Flex UI): localhost\n  Default Redirect URL hint for a local Flex UI:       http://localhost:3000\n")
	fmt.Fprintf(w, "\nAdmin commands for this IdP take%s, e.g. idp users list%s\n", dataFlag, dataFlag)
	if !onPath(env, "idp") {
		fmt.Fprintln(w, "The idp command is not on your PATH: from the source tree, `go install ./cmd/idp` puts it in\n$(go env GOPATH)/bin (add that to PATH), or run `go run ./cmd/idp` in its place.")
	}
	fmt.Fprintln(w)
}

// shellQuote quotes s for a POSIX shell when it needs it, so a printed
// command can be pasted as is.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:@%,=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// onPath reports whether an executable named name is in one of the
// directories of the environment's PATH.
func onPath(env *environment, name string) bool {
	for _, dir := range filepath.SplitList(env.getenv("PATH")) {
		if dir == "" {
			continue
		}
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return true
		}
	}
	return false
}
