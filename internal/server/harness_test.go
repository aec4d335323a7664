package server_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/keys"
	"github.com/flexidp/flexidp/internal/saml"
	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/scim"
	"github.com/flexidp/flexidp/internal/server"
	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/sqlite"
	"github.com/flexidp/flexidp/internal/store/sqlite/sqlitetest"
	"github.com/flexidp/flexidp/internal/users"
)

// password is every seeded user's password.
const password = "correct horse battery"

// admin is the actor of the test's own changes (the CLI's, in production).
var admin = accounts.Actor{Name: "test"}

// idpOptions configure a test IdP; the zero value is serve's defaults.
type idpOptions struct {
	// Lockout throttles sign-ins; zero fields take the defaults.
	Lockout accounts.LockoutPolicy
	// KeyEncryptionKey seals private keys and TOTP secrets at rest, as
	// IDP_KEY_ENCRYPTION_KEY does; empty stores them in the clear.
	KeyEncryptionKey string
	// MFARequiredRoles defaults to admin, as in serve.
	MFARequiredRoles []string
	// MetricsToken, if set, serves the metrics at /metrics behind it.
	MetricsToken string
	// Mailer, if set, emails password links (the forgot-password page).
	Mailer accounts.Mailer
	// Store, if set, is a store prepared by an earlier testIdP: the new
	// IdP serves it (another replica, or a restart) without seeding it.
	Store *sqlite.Store
	// Branding is the organisation's name, logo, colour and support line.
	Branding server.Branding
	// Provisioning serves SCIM and the admin API (internal/scim), as serve
	// does.
	Provisioning bool
	// PasskeyRequiredRoles are the roles that must use a passkey.
	PasskeyRequiredRoles []string
	// Localhost names the server http://localhost:port rather than by its
	// address: passkeys need a host name (the relying party ID).
	Localhost bool
	// Wrap, if set, wraps the store the account service and the server
	// use (a countingStore); keys and seeding use it unwrapped.
	Wrap func(store.Store) store.Store
	// Now is the clock of the server and the account service; nil is
	// time.Now.
	Now func() time.Time
	// ConsoleSeparate serves the admin console on its own listener
	// (ConsoleURL), as IDP_ADMIN_LISTEN does.
	ConsoleSeparate bool
	// Hasher, if set, hashes passwords instead of the cheap hasher().
	Hasher *users.Hasher
	// WriteTimeout is the HTTP server's, as serve sets it; 0 for none.
	WriteTimeout time.Duration
}

// testIdP is flexidp's HTTP layer on a loopback httptest server, on a
// fresh SQLite store in a temporary directory, with a signing key, the
// Flex SP and users: the IdP a Flex agent's browser meets, without the
// binary around it.
type testIdP struct {
	// URL is the base URL, http://127.0.0.1:port, and the server's BaseURL.
	URL      string
	Store    *sqlite.Store
	Accounts *accounts.Service
	IdP      *saml.IdP
	// Handler is the server's handler, for benchmarks that call it
	// without the network.
	Handler http.Handler
	// ConsoleURL is where the admin console is: URL, or its own
	// listener's URL with ConsoleSeparate.
	ConsoleURL string
	// path is the database file.
	path string
}

// hasher is cheap, so that -race runs stay fast; internal/users tests the
// real parameters.
func hasher() *users.Hasher {
	return users.NewHasher(users.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 4)
}

// newTestIdP starts an IdP as opts say. A new store is seeded as an
// administrator would: the Flex SP (samltest.FlexACS, with a Default
// Redirect URL) and the users of seedUsers, all with the password
// password.
func newTestIdP(t testing.TB, opts idpOptions) *testIdP {
	t.Helper()
	ctx := context.Background()
	h := &testIdP{Store: opts.Store}
	if h.Store == nil {
		h.path = filepath.Join(t.TempDir(), "idp.db")
		h.Store = sqlitetest.Open(t, h.path)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.URL = "http://" + ln.Addr().String()
	if opts.Localhost {
		h.URL = "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	}
	base, _ := url.Parse(h.URL)

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hs := opts.Hasher
	if hs == nil {
		hs = hasher()
	}
	roles := opts.MFARequiredRoles
	if roles == nil {
		roles = []string{"admin"}
	}
	var served store.Store = h.Store
	if opts.Wrap != nil {
		served = opts.Wrap(h.Store)
	}
	dirSealer, err := keys.NewSealerFor("directory secret", "directory password", "IDP_KEY_ENCRYPTION_KEY", opts.KeyEncryptionKey)
	if err != nil {
		t.Fatal(err)
	}
	h.Accounts = accounts.New(accounts.Config{Store: served, Hasher: hs, Log: log, Lockout: opts.Lockout, Mailer: opts.Mailer, BaseURL: base,
		MFARequiredRoles: roles, PasskeyRequiredRoles: opts.PasskeyRequiredRoles, Now: opts.Now, Secrets: dirSealer})
	t.Cleanup(h.Accounts.WaitMail)
	keySealer, err := keys.NewSealer(opts.KeyEncryptionKey)
	if err != nil {
		t.Fatal(err)
	}
	mfaSealer, err := keys.NewSealerFor("mfa secret", "TOTP secret", "IDP_KEY_ENCRYPTION_KEY", opts.KeyEncryptionKey)
	if err != nil {
		t.Fatal(err)
	}
	h.IdP, err = saml.New(saml.Config{EntityID: h.URL + "/saml/metadata", SSOURL: h.URL + "/saml/sso", SLOURL: h.URL + "/saml/slo"})
	if err != nil {
		t.Fatal(err)
	}
	loader, err := keys.Load(ctx, keys.LoaderConfig{Store: h.Store, Sealer: keySealer, CommonName: h.IdP.EntityID(), Log: log}, h.IdP)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Store == nil {
		h.seed(t)
	}
	cfg := server.Config{BaseURL: base, Accounts: h.Accounts, MFASealer: mfaSealer, Branding: opts.Branding, Now: opts.Now,
		ConsoleSeparate: opts.ConsoleSeparate, KeySealer: keySealer, KeyLoader: loader}
	if opts.MetricsToken != "" {
		cfg.Metrics, cfg.MetricsToken = server.NewMetrics(hs, nil), opts.MetricsToken
	}
	if opts.Provisioning {
		cfg.Provisioning = func(addr func(*http.Request) string) map[string]http.Handler {
			return scim.New(scim.Config{Accounts: h.Accounts, BaseURL: base, ClientAddr: addr, Log: log}).Mounts()
		}
	}
	srv, err := server.New(cfg, served, h.IdP, hs, log)
	if err != nil {
		t.Fatal(err)
	}
	h.Handler = srv.Handler()
	ts := httptest.NewUnstartedServer(h.Handler)
	ts.Listener.Close()
	ts.Listener = ln
	ts.Config.WriteTimeout = opts.WriteTimeout
	ts.Start()
	t.Cleanup(ts.Close)
	h.ConsoleURL = h.URL
	if opts.ConsoleSeparate {
		cs := httptest.NewServer(srv.ConsoleHandler())
		t.Cleanup(cs.Close)
		h.ConsoleURL = cs.URL
	}
	return h
}

// defaultRedirect is the Flex SP's Default Redirect URL.
const defaultRedirect = "https://flex.twilio.com/dancing-owl-1234"

// seedUsers are the users of a new test IdP: a supervisor with team and
// program, an agent with given and family names and an image, a user
// without a role, and a disabled agent.
var seedUsers = []users.User{
	{Email: "Sam.Supervisor@Example.com", FullName: "Sam Supervisor", Roles: []string{"supervisor", "agent"}, Team: "Sales", Program: "Retail"},
	{Email: "agent@example.com", GivenName: "Alex", FamilyName: "Agent", Roles: []string{"agent"}, ImageURL: "https://example.com/alex.png"},
	{Email: "norole@example.com"},
	{Email: "gone@example.com", Roles: []string{"agent"}},
}

// seed registers the Flex SP and seedUsers through the account service.
func (h *testIdP) seed(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	entityID, _, err := sp.FlexPreset(samltest.FlexACS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Accounts.CreateSP(ctx, admin, sp.ServiceProvider{Name: "flex", EntityID: entityID,
		ACSURLs: []string{samltest.FlexACS}, DefaultRedirectURL: defaultRedirect}); err != nil {
		t.Fatal(err)
	}
	for _, u := range seedUsers {
		h.addUser(t, u)
	}
	if _, err := h.Accounts.Disable(ctx, admin, "gone@example.com"); err != nil {
		t.Fatal(err)
	}
}

// addUser creates u with the password password.
func (h *testIdP) addUser(t testing.TB, u users.User) users.User {
	t.Helper()
	u, err := h.Accounts.CreateUser(context.Background(), admin, accounts.NewUser{User: u, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// updateSP changes the Flex SP, as idp sp set does.
func (h *testIdP) updateSP(t *testing.T, change func(*sp.ServiceProvider)) {
	t.Helper()
	if _, err := h.Accounts.UpdateSP(context.Background(), admin, "flex", func(p *sp.ServiceProvider) error { change(p); return nil }); err != nil {
		t.Fatal(err)
	}
}

// setAttrs gives the user the attributes NAME=VALUE, as idp users set-attr
// does, and returns the refusal, if any.
func (h *testIdP) setAttrs(email string, pairs ...string) error {
	var nameValues []string
	for _, p := range pairs {
		name, value, _ := strings.Cut(p, "=")
		nameValues = append(nameValues, name, value)
	}
	set, err := attributes.SetOf(nameValues...)
	if err != nil {
		return err
	}
	_, err = h.Accounts.UpdateUser(context.Background(), admin, email, "user.set-attr", func(u *users.User) error {
		if u.Attributes == nil {
			u.Attributes = attributes.Set{}
		}
		for k, v := range set {
			u.Attributes[k] = v
		}
		return nil
	})
	return err
}

// user returns the stored user with that email.
func (h *testIdP) user(t *testing.T, email string) users.User {
	t.Helper()
	u, err := h.Accounts.FindUser(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// sessions returns how many sessions the user has on the server.
func (h *testIdP) sessions(t *testing.T, email string) int {
	t.Helper()
	ss, err := h.Store.ListSessions(context.Background(), h.user(t, email).ID)
	if err != nil {
		t.Fatal(err)
	}
	return len(ss)
}

// audit returns the audit events f selects, as "action:reason".
func (h *testIdP) audit(t *testing.T, f store.AuditFilter) []string {
	t.Helper()
	return samltest.AuditTrail(t, h.Store, f)
}

// count runs a counting query on the database file, read-only: for what
// the store has no method to count (consumed request IDs).
func (h *testIdP) count(t *testing.T, query string) int {
	t.Helper()
	if h.path == "" {
		t.Fatal("count: this IdP did not create its store")
	}
	db, err := sql.Open("sqlite", "file:"+h.path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// certificate returns the signing certificate the IdP publishes.
func (h *testIdP) certificate(t *testing.T) []byte {
	t.Helper()
	_, body := samltest.NewBrowser(t).Get(h.URL + "/saml/certificate.pem")
	return []byte(body)
}

// getRequest is a GET of u, for crewjam's parsers of redirect bindings.
func getRequest(u string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, u, nil)
	return r
}
