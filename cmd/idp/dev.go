package main

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/keys"
	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// devUser is a demo user seeded by `idp dev`.
type devUser struct {
	email, name, roles, team string
	attrs                    []string // name, value pairs
}

var devUsers = []devUser{
	{email: "admin@example.com", name: "Ada Admin", roles: "admin"},
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
	password, err := seedDev(ctx, env, st, *data, *acs, *audience, *redirect)
	if err == nil {
		var sealer *keys.Sealer
		if sealer, err = keys.NewSealer(o.keyEncryption); err == nil {
			_, _, err = keys.Ensure(ctx, st, sealer, endpointsFor(base).entityID, keys.DefaultBits, time.Now())
			if err == nil {
				err = printDevBanner(ctx, env, st, sealer, base.String(), *data, password, o.hardening.mfaRoles)
			}
		}
	}
	st.Close()
	if err != nil {
		o.listener.Close()
		return err
	}
	o.migrate = false
	return serve(ctx, env, o)
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
// database so it can be shown on every start) and registers the Flex SP.
func seedDev(ctx context.Context, env *environment, st store.Store, data, acs, audience, redirect string) (string, error) {
	pwFile := data + ".password"
	password := ""
	if b, err := os.ReadFile(pwFile); err == nil {
		password = strings.TrimSpace(string(b))
	} else {
		b := make([]byte, 10)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		password = strings.ToLower(base32.StdEncoding.EncodeToString(b))
		if err := os.MkdirAll(filepath.Dir(pwFile), 0o700); err != nil {
			return "", err
		}
		if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("write %s: %w", pwFile, err)
		}
	}
	hasher := users.NewHasher(users.DefaultParams, 2)
	for _, d := range devUsers {
		if _, err := st.GetUserByEmail(ctx, d.email); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
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
		u := users.User{ID: newUserID(), Email: d.email, FullName: d.name, Roles: roles, Team: d.team, Attributes: attrs}
		if u.PasswordHash, err = hasher.Hash(ctx, password); err != nil {
			return "", err
		}
		if err := u.Validate(); err != nil {
			return "", err
		}
		if err := st.CreateUser(ctx, u); err != nil && !errors.Is(err, store.ErrConflict) {
			return "", err
		}
	}
	if acs == "" {
		return password, nil
	}
	want, err := flexSP("flex", acs, audience)
	if err != nil {
		return "", err
	}
	want.DefaultRedirectURL = redirect
	if err := want.Validate(); err != nil {
		return "", err
	}
	if _, err := st.GetServiceProvider(ctx, "flex"); errors.Is(err, store.ErrNotFound) {
		err = st.CreateServiceProvider(ctx, want)
		if err != nil {
			return "", err
		}
		return password, nil
	} else if err != nil {
		return "", err
	}
	var before sp.ServiceProvider
	_, err = st.UpdateServiceProvider(ctx, "flex", func(s sp.ServiceProvider) (sp.ServiceProvider, error) {
		before = s
		s.EntityID, s.ACSURLs = want.EntityID, want.ACSURLs
		if redirect != "" {
			s.DefaultRedirectURL = redirect
		}
		return s, s.Validate()
	})
	if err == nil && (before.EntityID != want.EntityID || !slices.Equal(before.ACSURLs, want.ACSURLs)) {
		fmt.Fprintf(env.stderr, "note: --acs replaced the Flex service provider of %s:\n  was: %s (ACS %s)\n  now: %s (ACS %s)\n"+
			"  Sign-ins from the previous Flex account are now refused; keep both with `idp sp add-flex --data %s --name flex2 --acs …`.\n",
			data, before.EntityID, strings.Join(before.ACSURLs, ", "), want.EntityID, strings.Join(want.ACSURLs, ", "), shellQuote(data))
	}
	return password, err
}

func printDevBanner(ctx context.Context, env *environment, st store.Store, sealer *keys.Sealer, base, data, password, mfaRoles string) error {
	ks, err := keys.KeySet(ctx, st, sealer)
	if err != nil {
		return err
	}
	sps, err := st.ListServiceProviders(ctx)
	if err != nil {
		return err
	}
	u, err := parseBaseURL(base)
	if err != nil {
		return err
	}
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
		fmt.Fprintf(w, "  %-24s %s%s\n", d.email, d.roles, extra)
	}
	if slices.Contains(strings.Split(strings.ReplaceAll(mfaRoles, " ", ""), ","), "admin") {
		fmt.Fprintln(w, "  admin@example.com sets up two-step verification (TOTP, QR code) at its first sign-in;\n  start with --mfa-required-roles none to skip that in development.")
	}
	fmt.Fprintln(w)
	dataFlag := " --data " + shellQuote(data)
	printSetupValues(w, u, ks, sps, dataFlag)
	fmt.Fprintf(w, "\n  Trusted domain (Flex Console, for a local Flex UI): localhost\n  Default Redirect URL hint for a local Flex UI:       http://localhost:3000\n")
	fmt.Fprintf(w, "\nAdmin commands for this IdP take%s, e.g. idp users list%s\n", dataFlag, dataFlag)
	if !onPath(env, "idp") {
		fmt.Fprintln(w, "The idp command is not on your PATH: from the source tree, `go install ./cmd/idp` puts it in\n$(go env GOPATH)/bin (add that to PATH), or run `go run ./cmd/idp` in its place.")
	}
	fmt.Fprintln(w)
	return nil
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
