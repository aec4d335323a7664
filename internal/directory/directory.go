// Package directory signs people in against an LDAP directory (Active
// Directory or OpenLDAP): it finds the user with a service account,
// checks the password by binding as the user, and reads the profile, the
// disabled state and every group the user is in, nested groups included.
// It knows nothing of flexidp's users: internal/accounts decides what an
// answer means.
package directory

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Defaults of Config's optional fields.
const (
	DefaultUserFilter     = "(objectClass=person)"
	DefaultGroupFilter    = "(|(objectClass=group)(objectClass=groupOfNames))"
	DefaultDisabledFilter = "(userAccountControl:1.2.840.113556.1.4.803:=2)" // AD: ACCOUNTDISABLE
	DefaultMaxNesting     = 10
	DefaultTimeout        = 5 * time.Second
	DefaultPoolSize       = 4
	// maxGroups bounds the iterative expansion, whatever the nesting.
	maxGroups = 2000
)

// DefaultLoginAttrs are the attributes a sign-in name is looked up in.
var DefaultLoginAttrs = []string{"sAMAccountName", "userPrincipalName", "mail"}

// OIDs the nested-group resolution depends on.
const (
	// capActiveDirectory is LDAP_CAP_ACTIVE_DIRECTORY_OID, in the root
	// DSE's supportedCapabilities of an AD domain controller.
	capActiveDirectory = "1.2.840.113556.1.4.800"
	// matchingRuleInChain is LDAP_MATCHING_RULE_IN_CHAIN: AD resolves
	// (member:1.2.840.113556.1.4.1941:=dn) through nested groups itself.
	matchingRuleInChain = "1.2.840.113556.1.4.1941"
)

// Config is one LDAP source.
type Config struct {
	// URLs are the servers, primary first, then the fallbacks tried in
	// order when it cannot be reached: ldaps://host[:port] or
	// ldap://host[:port].
	URLs []string
	// StartTLS upgrades ldap:// connections before anything is sent.
	StartTLS bool
	// AllowPlain permits ldap:// without StartTLS: passwords then cross
	// the network in the clear. Only for a lab; never the default.
	AllowPlain bool
	// CAPEM is the pinned CA (PEM): the servers' certificates must chain
	// to it. The system's CAs are not trusted. Required with TLS.
	CAPEM []byte
	// BindDN and BindPassword are the service account that searches.
	BindDN, BindPassword string
	// UserBase is where users are searched (the whole subtree).
	UserBase string
	// UserFilter narrows the users; DefaultUserFilter when empty.
	UserFilter string
	// LoginAttrs are the attributes the sign-in name is matched against
	// (any of them); DefaultLoginAttrs when empty.
	LoginAttrs []string
	// DisabledFilter matches the users who may not sign in;
	// DefaultDisabledFilter (AD's userAccountControl bit) when empty.
	// OpenLDAP with ppolicy: (pwdAccountLockedTime=*).
	DisabledFilter string
	// GroupBase is where groups are searched; UserBase when empty.
	GroupBase string
	// GroupFilter selects group entries; DefaultGroupFilter when empty.
	GroupFilter string
	// MaxNesting bounds the nested-group expansion when the server does
	// not resolve nesting itself; DefaultMaxNesting when zero.
	MaxNesting int
	// Timeout bounds each connection attempt and each request;
	// DefaultTimeout when zero.
	Timeout time.Duration
	// PoolSize is how many idle service connections are kept;
	// DefaultPoolSize when zero.
	PoolSize int
}

func (c Config) withDefaults() Config {
	if c.UserFilter == "" {
		c.UserFilter = DefaultUserFilter
	}
	if len(c.LoginAttrs) == 0 {
		c.LoginAttrs = DefaultLoginAttrs
	}
	if c.DisabledFilter == "" {
		c.DisabledFilter = DefaultDisabledFilter
	}
	if c.GroupBase == "" {
		c.GroupBase = c.UserBase
	}
	if c.GroupFilter == "" {
		c.GroupFilter = DefaultGroupFilter
	}
	if c.MaxNesting <= 0 {
		c.MaxNesting = DefaultMaxNesting
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.PoolSize <= 0 {
		c.PoolSize = DefaultPoolSize
	}
	return c
}

// Validate checks the configuration and says, in a sentence, what is wrong.
func (c Config) Validate() error {
	if len(c.URLs) == 0 {
		return errors.New("give at least one server URL (ldaps://host or ldap://host)")
	}
	tlsUsed := false
	for _, raw := range c.URLs {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "ldaps" && u.Scheme != "ldap") {
			return fmt.Errorf("server URL %q is not ldaps://host[:port] or ldap://host[:port]", raw)
		}
		switch {
		case u.Scheme == "ldaps" || c.StartTLS:
			tlsUsed = true
		case !c.AllowPlain:
			return fmt.Errorf("server URL %q is plain LDAP: passwords would cross the network in the clear; use ldaps://, StartTLS, or allow plain LDAP explicitly", raw)
		}
	}
	if tlsUsed {
		if len(c.CAPEM) == 0 {
			return errors.New("give the CA certificate (PEM) that issued the directory servers' certificates: it is pinned")
		}
		if !x509.NewCertPool().AppendCertsFromPEM(c.CAPEM) {
			return errors.New("the CA certificate is not a PEM certificate")
		}
	}
	if c.BindDN == "" || c.BindPassword == "" {
		return errors.New("give the service account's DN and password (searches are never anonymous)")
	}
	if c.UserBase == "" {
		return errors.New("give the base DN users are searched under")
	}
	for _, dn := range []string{c.BindDN, c.UserBase, c.GroupBase} {
		if dn == "" {
			continue
		}
		if _, err := ldap.ParseDN(dn); err != nil {
			return fmt.Errorf("%q is not a DN: %v", dn, err)
		}
	}
	for _, f := range []string{c.UserFilter, c.DisabledFilter, c.GroupFilter} {
		if f == "" {
			continue
		}
		if _, err := ldap.CompileFilter(f); err != nil {
			return fmt.Errorf("filter %q is not a valid LDAP filter: %v", f, err)
		}
	}
	for _, a := range c.LoginAttrs {
		if a == "" || strings.ContainsAny(a, "()=*\\ ") {
			return fmt.Errorf("login attribute %q is not an attribute name", a)
		}
	}
	return nil
}

// Entry is what the directory says about a user who signed in.
type Entry struct {
	// DN is the user's distinguished name; ID is a stable identifier
	// (the DN in canonical form).
	DN, ID                                 string
	Email, FullName, GivenName, FamilyName string
	// Disabled: the directory's DisabledFilter matches the user.
	Disabled bool
	// Groups are the canonical DNs of every group the user is in,
	// directly or through nested groups, sorted.
	Groups []string
}

// Why Authenticate refused. Anything else it returns is an
// *UnavailableError or an internal failure.
var (
	// ErrNoUser: no user (or more than one) has that sign-in name.
	ErrNoUser = errors.New("no such user in the directory")
	// ErrWrongPassword: the directory refused the user's bind, or the
	// password was empty (never sent: an empty password is an
	// unauthenticated bind, which many servers accept as a success).
	ErrWrongPassword = errors.New("the directory refused the password")
)

// UnavailableError: no server could answer (unreachable, timed out,
// refused the TLS handshake or the service account). It is no verdict on
// the user's password.
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string { return "directory unavailable: " + e.Err.Error() }
func (e *UnavailableError) Unwrap() error { return e.Err }

// Directory is a connection to one LDAP source: a small pool of service
// connections, to the first server that answers. Safe for concurrent use.
type Directory struct {
	cfg  Config
	tls  *tls.Config
	idle chan *conn
	mu   sync.Mutex
	// ad caches whether the servers are Active Directory; nil: unknown.
	ad *bool
	// closed: Close was called (the source changed); connections in use
	// are closed when they come back instead of pooled.
	closed atomic.Bool
}

// conn is a service connection: bound as the service account.
type conn struct{ *ldap.Conn }

// New returns a Directory for cfg; it connects when first used.
func New(cfg Config) (*Directory, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	d := &Directory{cfg: cfg, idle: make(chan *conn, cfg.PoolSize)}
	if len(cfg.CAPEM) > 0 {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(cfg.CAPEM)
		d.tls = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return d, nil
}

// Close closes the idle connections, and those in use as they come back.
func (d *Directory) Close() {
	d.closed.Store(true)
	for {
		select {
		case c := <-d.idle:
			c.Close()
		default:
			return
		}
	}
}

// dial connects to the first server that answers, over TLS unless plain
// LDAP is allowed, and binds as the service account.
func (d *Directory) dial(ctx context.Context) (*conn, error) {
	var errs []error
	for _, raw := range d.cfg.URLs {
		if err := ctx.Err(); err != nil {
			return nil, &UnavailableError{err}
		}
		c, err := d.dialOne(ctx, raw)
		if err == nil {
			return c, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", raw, err))
	}
	return nil, &UnavailableError{errors.Join(errs...)}
}

func (d *Directory) dialOne(ctx context.Context, raw string) (*conn, error) {
	u, _ := url.Parse(raw) // validated
	timeout := d.timeout(ctx)
	var tc *tls.Config
	if d.tls != nil {
		tc = d.tls.Clone()
		tc.ServerName = u.Hostname()
	}
	opts := []ldap.DialOpt{ldap.DialWithDialer(&net.Dialer{Timeout: timeout})}
	if u.Scheme == "ldaps" {
		opts = append(opts, ldap.DialWithTLSConfig(tc))
	}
	lc, err := ldap.DialURL(raw, opts...)
	if err != nil {
		return nil, err
	}
	lc.SetTimeout(timeout)
	if u.Scheme == "ldap" && d.cfg.StartTLS {
		if err := lc.StartTLS(tc); err != nil {
			lc.Close()
			return nil, fmt.Errorf("StartTLS: %w", err)
		}
	}
	if err := lc.Bind(d.cfg.BindDN, d.cfg.BindPassword); err != nil {
		lc.Close()
		return nil, fmt.Errorf("bind as the service account: %w", err)
	}
	return &conn{lc}, nil
}

// timeout is the configured timeout, shortened to ctx's deadline.
func (d *Directory) timeout(ctx context.Context) time.Duration {
	t := d.cfg.Timeout
	if dl, ok := ctx.Deadline(); ok {
		t = min(t, max(time.Until(dl), time.Millisecond))
	}
	return t
}

// get returns an idle service connection, or a new one.
func (d *Directory) get(ctx context.Context) (*conn, error) {
	select {
	case c := <-d.idle:
		if !c.IsClosing() {
			c.SetTimeout(d.timeout(ctx))
			return c, nil
		}
		c.Close()
	default:
	}
	return d.dial(ctx)
}

// put keeps c for the next request, or closes it when the pool is full.
func (d *Directory) put(c *conn) {
	if d.closed.Load() {
		c.Close()
		return
	}
	select {
	case d.idle <- c:
	default:
		c.Close()
	}
}

// transient reports whether err is the connection's failure rather than
// the directory's answer: the request is retried on a new connection.
func transient(err error) bool {
	var le *ldap.Error
	if !errors.As(err, &le) {
		return true
	}
	return le.ResultCode >= ldap.ErrorNetwork || slices.Contains([]uint16{ldap.LDAPResultBusy, ldap.LDAPResultUnavailable,
		ldap.LDAPResultServerDown, ldap.LDAPResultTimeout, ldap.LDAPResultConnectError}, le.ResultCode)
}

// with runs f on a service connection, once more on a new connection if
// the pooled one turns out dead. Failures are *UnavailableError.
func (d *Directory) with(ctx context.Context, f func(*conn) error) error {
	for attempt := 0; ; attempt++ {
		c, err := d.get(ctx)
		if err != nil {
			return err
		}
		err = f(c)
		if err == nil {
			d.put(c)
			return nil
		}
		if errors.Is(err, ErrNoUser) || errors.Is(err, ErrWrongPassword) {
			d.put(c) // a verdict: the connection is fine
			return err
		}
		c.Close()
		var un *UnavailableError
		if errors.As(err, &un) {
			return err
		}
		if attempt == 0 && transient(err) {
			continue
		}
		return &UnavailableError{err}
	}
}

// Check asks a server for its root DSE as the service account
// (readiness): a pooled connection that died is noticed too.
func (d *Directory) Check(ctx context.Context) error {
	return d.with(ctx, func(c *conn) error {
		_, err := c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
			"(objectClass=*)", []string{"1.1"}, nil))
		return err
	})
}

// Authenticate finds the user whose sign-in name is login, checks
// password by binding as them, and reads their profile and groups. It
// returns ErrNoUser, ErrWrongPassword, an *UnavailableError, or the entry
// (whose Disabled the caller must honour).
func (d *Directory) Authenticate(ctx context.Context, login, password string) (Entry, error) {
	if password == "" {
		// An empty password makes a simple bind unauthenticated, which a
		// server may report as success: never send it.
		return Entry{}, ErrWrongPassword
	}
	login = strings.TrimSpace(login)
	if login == "" {
		return Entry{}, ErrNoUser
	}
	return d.read(ctx, login, &password)
}

// Lookup finds the user whose sign-in name is login, without a password
// (a periodic sync, the CLI's test).
func (d *Directory) Lookup(ctx context.Context, login string) (Entry, error) {
	return d.read(ctx, login, nil)
}

// Find looks the user up by login as Authenticate does before it binds,
// and reads nothing more (ErrNoUser when there is none): the search a
// sign-in costs, for a sign-in that does not go to the directory but must
// not be told apart by its time.
func (d *Directory) Find(ctx context.Context, login string) error {
	return d.with(ctx, func(c *conn) error {
		_, err := d.find(c, strings.TrimSpace(login))
		return err
	})
}

// Entry reads the user entry dn again (a periodic sync): ErrNoUser when
// it is gone, or no longer a user under the base.
func (d *Directory) Entry(ctx context.Context, dn string) (Entry, error) {
	var e Entry
	err := d.with(ctx, func(c *conn) error {
		res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
			d.cfg.UserFilter, profileAttrs, nil))
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) || (err == nil && len(res.Entries) == 0) {
			return ErrNoUser
		} else if err != nil {
			return fmt.Errorf("read user: %w", err)
		}
		if !underBase(res.Entries[0].DN, d.cfg.UserBase) {
			return ErrNoUser
		}
		e = entryOf(res.Entries[0])
		if e.Disabled, err = d.matches(c, e.DN, d.cfg.DisabledFilter); err != nil {
			return err
		}
		e.Groups, err = d.groups(c, e.DN)
		return err
	})
	return e, err
}

func underBase(dn, base string) bool {
	p, err1 := ldap.ParseDN(dn)
	b, err2 := ldap.ParseDN(base)
	return err1 == nil && err2 == nil && (b.AncestorOfFold(p) || b.EqualFold(p))
}

// read finds the user, checks *password when it is given, and reads
// their disabled state and groups.
func (d *Directory) read(ctx context.Context, login string, password *string) (Entry, error) {
	var e Entry
	err := d.with(ctx, func(c *conn) error {
		var err error
		if e, err = d.find(c, login); err != nil {
			return err
		}
		if password != nil {
			if err := d.bindAs(c, e.DN, *password); err != nil {
				return err
			}
		}
		if e.Disabled, err = d.matches(c, e.DN, d.cfg.DisabledFilter); err != nil {
			return err
		}
		e.Groups, err = d.groups(c, e.DN)
		return err
	})
	return e, err
}

var profileAttrs = []string{"mail", "displayName", "cn", "givenName", "sn"}

// find searches the user by login, every value escaped.
func (d *Directory) find(c *conn, login string) (Entry, error) {
	esc := ldap.EscapeFilter(login)
	var any strings.Builder
	for _, a := range d.cfg.LoginAttrs {
		fmt.Fprintf(&any, "(%s=%s)", a, esc)
	}
	filter := fmt.Sprintf("(&%s(|%s))", d.cfg.UserFilter, any.String())
	res, err := c.Search(ldap.NewSearchRequest(d.cfg.UserBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 0, false,
		filter, profileAttrs, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) || (err == nil && len(res.Entries) > 1) {
		return Entry{}, fmt.Errorf("%w (more than one entry has that name)", ErrNoUser)
	}
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) || (err == nil && len(res.Entries) == 0) {
		return Entry{}, ErrNoUser
	}
	if err != nil {
		return Entry{}, fmt.Errorf("search user: %w", err)
	}
	return entryOf(res.Entries[0]), nil
}

// entryOf reads the profile of a user entry.
func entryOf(r *ldap.Entry) Entry {
	name := r.GetAttributeValue("displayName")
	if name == "" {
		name = r.GetAttributeValue("cn")
	}
	return Entry{DN: r.DN, ID: Canonical(r.DN), Email: r.GetAttributeValue("mail"), FullName: name,
		GivenName: r.GetAttributeValue("givenName"), FamilyName: r.GetAttributeValue("sn")}
}

// bindAs checks the user's password on c, then binds c back to the
// service account.
func (d *Directory) bindAs(c *conn, dn, password string) error {
	err := c.Bind(dn, password)
	if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		err = ErrWrongPassword
	} else if err != nil {
		return fmt.Errorf("bind as user: %w", err)
	}
	if rerr := c.Bind(d.cfg.BindDN, d.cfg.BindPassword); rerr != nil {
		return &UnavailableError{fmt.Errorf("bind as the service account: %w", rerr)}
	}
	return err
}

// matches reports whether the entry dn matches filter.
func (d *Directory) matches(c *conn, dn, filter string) (bool, error) {
	res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, true,
		filter, []string{"1.1"}, nil))
	if err != nil {
		return false, fmt.Errorf("check %s: %w", filter, err)
	}
	return len(res.Entries) > 0, nil
}

// isAD reports whether the server is Active Directory (which resolves
// nested membership itself), from its root DSE; cached.
func (d *Directory) isAD(c *conn) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ad != nil {
		return *d.ad, nil
	}
	res, err := c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"supportedCapabilities"}, nil))
	if err != nil {
		return false, fmt.Errorf("read root DSE: %w", err)
	}
	ad := len(res.Entries) == 1 && slices.Contains(res.Entries[0].GetAttributeValues("supportedCapabilities"), capActiveDirectory)
	d.ad = &ad
	return ad, nil
}

// groups returns the canonical DNs of every group dn is in, nested
// included: AD answers with LDAP_MATCHING_RULE_IN_CHAIN; other servers
// are asked level by level (member=any of the last level), at most
// MaxNesting levels and maxGroups groups, each group once (cycles end).
func (d *Directory) groups(c *conn, dn string) ([]string, error) {
	ad, err := d.isAD(c)
	if err != nil {
		return nil, err
	}
	if ad {
		filter := fmt.Sprintf("(&%s(member:%s:=%s))", d.cfg.GroupFilter, matchingRuleInChain, ldap.EscapeFilter(dn))
		found, err := d.searchGroups(c, filter)
		if err != nil {
			return nil, err
		}
		slices.Sort(found)
		return found, nil
	}
	seen := map[string]bool{}
	var all []string
	level := []string{dn}
	for depth := 0; depth < d.cfg.MaxNesting && len(level) > 0; depth++ {
		var next []string
		for chunk := range slices.Chunk(level, 50) {
			var any strings.Builder
			for _, m := range chunk {
				fmt.Fprintf(&any, "(member=%s)", ldap.EscapeFilter(m))
			}
			found, err := d.searchGroups(c, fmt.Sprintf("(&%s(|%s))", d.cfg.GroupFilter, any.String()))
			if err != nil {
				return nil, err
			}
			for _, g := range found {
				if !seen[g] {
					seen[g] = true
					all = append(all, g)
					next = append(next, g)
				}
			}
		}
		if len(all) > maxGroups {
			return nil, fmt.Errorf("more than %d groups: the nesting is not bounded", maxGroups)
		}
		level = next
	}
	slices.Sort(all)
	return all, nil
}

func (d *Directory) searchGroups(c *conn, filter string) ([]string, error) {
	res, err := c.SearchWithPaging(ldap.NewSearchRequest(d.cfg.GroupBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		filter, []string{"1.1"}, nil), 500)
	if err != nil {
		return nil, fmt.Errorf("search groups: %w", err)
	}
	out := make([]string, 0, len(res.Entries))
	for _, e := range res.Entries {
		out = append(out, Canonical(e.DN))
	}
	return out, nil
}

// Canonical returns dn in one form for comparisons: attribute types and
// values lower-cased, no spaces around separators. A DN that does not
// parse is returned lower-cased.
func Canonical(dn string) string {
	p, err := ldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(dn))
	}
	return strings.ToLower(p.String())
}
