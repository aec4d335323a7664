package accounts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flexidp/flexidp/internal/directory"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// Sealer encrypts secrets at rest (a *keys.Sealer); one that does not
// encrypt returns them as they are.
type Sealer interface {
	Seal(plain []byte) ([]byte, error)
	Open(stored []byte) ([]byte, error)
}

// The kinds of source: LDAP or Active Directory (the password is checked
// by the directory), and OpenID Connect (the person signs in at the
// provider, and comes back with an ID token).
const (
	KindLDAP = "ldap"
	KindOIDC = "oidc"
)

// LDAPSettings is an LDAP source's configuration, without its secret
// (the service account's password, sealed apart). See directory.Config
// for what each field does.
type LDAPSettings struct {
	URLs           []string `json:"urls"`
	StartTLS       bool     `json:"start_tls,omitempty"`
	AllowPlain     bool     `json:"allow_plain,omitempty"`
	CAPEM          string   `json:"ca_pem,omitempty"`
	BindDN         string   `json:"bind_dn"`
	UserBase       string   `json:"user_base"`
	UserFilter     string   `json:"user_filter,omitempty"`
	LoginAttrs     []string `json:"login_attributes,omitempty"`
	DisabledFilter string   `json:"disabled_filter,omitempty"`
	GroupBase      string   `json:"group_base,omitempty"`
	GroupFilter    string   `json:"group_filter,omitempty"`
	MaxNesting     int      `json:"max_nesting,omitempty"`
	TimeoutSeconds int      `json:"timeout_seconds,omitempty"`
	PoolSize       int      `json:"pool_size,omitempty"`
	// Groups maps a directory group's DN to a flexidp group: members,
	// nested ones included, are kept in that group.
	Groups map[string]string `json:"groups,omitempty"`
}

// config is the directory.Config of these settings with password.
func (l LDAPSettings) config(password string) directory.Config {
	return directory.Config{URLs: l.URLs, StartTLS: l.StartTLS, AllowPlain: l.AllowPlain, CAPEM: []byte(l.CAPEM),
		BindDN: l.BindDN, BindPassword: password, UserBase: l.UserBase, UserFilter: l.UserFilter, LoginAttrs: l.LoginAttrs,
		DisabledFilter: l.DisabledFilter, GroupBase: l.GroupBase, GroupFilter: l.GroupFilter, MaxNesting: l.MaxNesting,
		Timeout: time.Duration(l.TimeoutSeconds) * time.Second, PoolSize: l.PoolSize}
}

// Source is an upstream source as administrators see and change it.
type Source struct {
	Name string
	Kind string
	// Domains are the email domains the source signs in.
	Domains []string
	LDAP    LDAPSettings
	OIDC    OIDCSettings
	// Password is the service account's password (LDAP), or the client
	// secret (OIDC): set it to change it;
	// it is never read back (HasPassword says whether one is stored).
	Password    string
	HasPassword bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Compiled on first use, not at package init, which every start pays
// (docs/performance.md, "Idle memory").
var sourceName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`) })
var domainName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)
})

// validate checks src and tidies its domains and group DNs.
func (src *Source) validate() error {
	if !sourceName().MatchString(src.Name) {
		return errorf(Invalid, "A source name is 1 to 40 lower-case letters, digits and dashes, starting with a letter or digit (got %q).", src.Name)
	}
	if src.Kind != KindLDAP && src.Kind != KindOIDC {
		return errorf(Invalid, "The kind of source %q is not supported (use %q or %q).", src.Kind, KindLDAP, KindOIDC)
	}
	var ds []string
	for _, d := range src.Domains {
		d = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@"))
		if !domainName().MatchString(d) {
			return errorf(Invalid, "%q is not an email domain (like acme.com).", d)
		}
		ds = append(ds, d)
	}
	slices.Sort(ds)
	src.Domains = slices.Compact(ds)
	if src.Kind == KindOIDC {
		return src.validateOIDC()
	}
	groups := map[string]string{}
	for dn, g := range src.LDAP.Groups {
		if strings.TrimSpace(g) == "" {
			return errorf(Invalid, "The directory group %q is mapped to no flexidp group.", dn)
		}
		groups[directory.Canonical(dn)] = strings.TrimSpace(g)
	}
	src.LDAP.Groups = groups
	password := src.Password
	if password == "" && src.HasPassword {
		password = "(stored)" // Validate only checks that there is one
	}
	if err := src.LDAP.config(password).Validate(); err != nil {
		return &Error{Code: Invalid, Message: "The directory settings are not valid: " + err.Error() + ".", Err: err}
	}
	return nil
}

// view is what the audit trail records of a source: never the secret.
func (src Source) view() map[string]any {
	if src.Kind == KindOIDC {
		return map[string]any{"kind": src.Kind, "domains": src.Domains, "oidc": src.OIDC, "has_secret": src.HasPassword}
	}
	return map[string]any{"kind": src.Kind, "domains": src.Domains, "ldap": src.LDAP, "has_password": src.HasPassword}
}

func (s *Service) sourceOf(d store.Directory) (Source, error) {
	src := Source{Name: d.Name, Kind: d.Kind, Domains: d.Domains, HasPassword: len(d.Secret) > 0, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	var settings any = &src.LDAP
	if d.Kind == KindOIDC {
		settings = &src.OIDC
	}
	if err := json.Unmarshal([]byte(d.Config), settings); err != nil {
		return Source{}, fmt.Errorf("source %s: stored settings: %w", d.Name, err)
	}
	return src, nil
}

func (s *Service) seal(password string) ([]byte, error) {
	if s.secrets == nil {
		return []byte(password), nil
	}
	return s.secrets.Seal([]byte(password))
}

// record turns src into what the store keeps, sealing a new password;
// old is the stored secret kept when src.Password is empty.
func (s *Service) record(src Source, old []byte) (store.Directory, error) {
	var settings any = src.LDAP
	if src.Kind == KindOIDC {
		settings = src.OIDC
	}
	cfg, err := json.Marshal(settings)
	if err != nil {
		return store.Directory{}, err
	}
	d := store.Directory{Name: src.Name, Kind: src.Kind, Config: string(cfg), Domains: src.Domains, Secret: old}
	if src.Password != "" {
		if d.Secret, err = s.seal(src.Password); err != nil {
			return store.Directory{}, fmt.Errorf("seal the directory password: %w", err)
		}
	}
	return d, nil
}

// AddDirectory validates and stores a new source.
func (s *Service) AddDirectory(ctx context.Context, actor Actor, src Source) (Source, error) {
	if src.Kind == "" {
		src.Kind = KindLDAP
	}
	src.HasPassword = false
	if err := src.validate(); err != nil {
		return Source{}, err
	}
	d, err := s.record(src, nil)
	if err != nil {
		return Source{}, err
	}
	if err := s.st.CreateDirectory(ctx, d); errors.Is(err, store.ErrConflict) {
		return Source{}, errorf(Conflict, "A source named %q already exists.", src.Name)
	} else if err != nil {
		return Source{}, err
	}
	src.Password, src.HasPassword = "", true
	return src, s.audit(ctx, actor, Change{Action: "directory.add", After: map[string]any{"name": src.Name, "source": src.view()}})
}

// GetDirectory returns the source with that name.
func (s *Service) GetDirectory(ctx context.Context, name string) (Source, error) {
	d, err := s.st.GetDirectory(ctx, name)
	if err != nil {
		return Source{}, notFoundAs(err, fmt.Sprintf("There is no source named %q (see idp directories list).", name))
	}
	return s.sourceOf(d)
}

// ListDirectories returns every source, ordered by name.
func (s *Service) ListDirectories(ctx context.Context) ([]Source, error) {
	ds, err := s.st.ListDirectories(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Source, 0, len(ds))
	for _, d := range ds {
		src, err := s.sourceOf(d)
		if err != nil {
			return nil, err
		}
		out = append(out, src)
	}
	return out, nil
}

// UpdateDirectory applies change to the source atomically and validates
// the result; a Password set by change replaces the stored one.
func (s *Service) UpdateDirectory(ctx context.Context, actor Actor, name string, change func(*Source) error) (Source, error) {
	var before, after Source
	_, err := s.st.UpdateDirectory(ctx, name, func(d store.Directory) (store.Directory, error) {
		src, err := s.sourceOf(d)
		if err != nil {
			return d, err
		}
		before = src
		src.LDAP.Groups = maps.Clone(src.LDAP.Groups)
		src.OIDC.Groups = maps.Clone(src.OIDC.Groups)
		if err := change(&src); err != nil {
			return d, invalid(err)
		}
		src.Name, src.Kind = before.Name, before.Kind
		if err := src.validate(); err != nil {
			return d, err
		}
		next, err := s.record(src, d.Secret)
		if err != nil {
			return d, err
		}
		src.Password, src.HasPassword = "", len(next.Secret) > 0
		after = src
		return next, nil
	})
	if err != nil {
		return Source{}, notFoundAs(err, fmt.Sprintf("There is no source named %q (see idp directories list).", name))
	}
	return after, s.audit(ctx, actor, Change{Action: "directory.update",
		Before: map[string]any{"name": name, "source": before.view()}, After: map[string]any{"name": name, "source": after.view()}})
}

// RemoveDirectory removes the source. Its users stay, unlinked, and can
// no longer sign in through it (they have no password of their own).
func (s *Service) RemoveDirectory(ctx context.Context, actor Actor, name string) error {
	src, err := s.GetDirectory(ctx, name)
	if err != nil {
		return err
	}
	if err := s.st.DeleteDirectory(ctx, name); err != nil {
		return notFoundAs(err, fmt.Sprintf("There is no source named %q.", name))
	}
	s.dirs.drop(name)
	return s.audit(ctx, actor, Change{Action: "directory.remove", Before: map[string]any{"name": name, "source": src.view()}})
}

// DirectoryProbe is what TestDirectory found.
type DirectoryProbe struct {
	Entry directory.Entry
	// Groups are the flexidp groups the entry's groups map to.
	Groups []string
}

// TestDirectory connects to the source with its service account and, if
// login is not empty, looks the user up (without a password): what an
// administrator checks after a change.
func (s *Service) TestDirectory(ctx context.Context, name, login string) (DirectoryProbe, error) {
	if o, err := s.connectOIDC(ctx, name); err != nil || o != nil {
		// A provider is checked by its discovery document; nobody can be
		// looked up without signing in.
		if err != nil {
			return DirectoryProbe{}, err
		}
		return DirectoryProbe{}, unavailable(name, o.Check(ctx))
	}
	d, src, err := s.connect(ctx, name)
	if err != nil {
		return DirectoryProbe{}, err
	}
	if login == "" {
		return DirectoryProbe{}, unavailable(name, d.Check(ctx))
	}
	e, err := d.Lookup(ctx, login)
	if errors.Is(err, directory.ErrNoUser) {
		return DirectoryProbe{}, errorf(NotFound, "The source %s has no user %q under %s.", name, login, src.LDAP.UserBase)
	} else if err != nil {
		return DirectoryProbe{}, unavailable(name, err)
	}
	return DirectoryProbe{Entry: e, Groups: MapGroups(src.LDAP.Groups, e.Groups)}, nil
}

// MapGroups returns the flexidp groups that the directory groups (DNs)
// map to, sorted, each once.
func MapGroups(mapping map[string]string, dns []string) []string {
	var out []string
	for _, dn := range dns {
		if g, ok := mapping[directory.Canonical(dn)]; ok {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ErrDirectoryUnavailable: the source that signs the person in could not
// be reached; it is no verdict on their password, and they should try
// again later.
var ErrDirectoryUnavailable = errors.New("the directory could not be reached")

// unavailable wraps a directory failure as ErrDirectoryUnavailable (an
// Unavailable *Error for administrators).
func unavailable(name string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: Unavailable, Message: fmt.Sprintf("The source %s could not be reached: %v.", name, err),
		Err: fmt.Errorf("%w: %s: %w", ErrDirectoryUnavailable, name, err)}
}

// DirectoryHealth is one source's state, for /readyz detail.
type DirectoryHealth struct {
	Name string
	Err  error
}

// DirectoryStatus checks every source's connection (service account).
func (s *Service) DirectoryStatus(ctx context.Context) ([]DirectoryHealth, error) {
	ds, err := s.st.ListDirectories(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]DirectoryHealth, len(ds))
	var wg sync.WaitGroup
	for i, d := range ds {
		out[i].Name = d.Name
		wg.Go(func() {
			if d.Kind == KindOIDC {
				o, _, err := s.liveOIDC(d)
				if err == nil {
					err = o.Discovered(ctx)
				}
				out[i].Err = err
				return
			}
			dir, _, err := s.connect(ctx, d.Name)
			if err == nil {
				err = dir.Check(ctx)
			}
			out[i].Err = err
		})
	}
	wg.Wait()
	return out, nil
}

// dirCache keeps one live connection per source, replaced when the
// source's settings change.
type dirCache struct {
	mu sync.Mutex
	m  map[string]liveDir
}

type liveDir struct {
	updated time.Time
	d       *directory.Directory // LDAP
	o       *directory.OIDC      // OpenID Connect
	src     Source
}

func (c *dirCache) drop(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.m[name]; ok {
		if l.d != nil {
			l.d.Close()
		}
		delete(c.m, name)
	}
}

// connect returns the live connection of the source name.
func (s *Service) connect(ctx context.Context, name string) (*directory.Directory, Source, error) {
	d, err := s.st.GetDirectory(ctx, name)
	if err != nil {
		return nil, Source{}, notFoundAs(err, fmt.Sprintf("There is no source named %q (see idp directories list).", name))
	}
	return s.live(d)
}

func (s *Service) live(d store.Directory) (*directory.Directory, Source, error) {
	s.dirs.mu.Lock()
	defer s.dirs.mu.Unlock()
	if l, ok := s.dirs.m[d.Name]; ok && l.updated.Equal(d.UpdatedAt) && l.d != nil {
		return l.d, l.src, nil
	}
	if d.Kind != KindLDAP {
		return nil, Source{}, fmt.Errorf("source %s is not an LDAP directory", d.Name)
	}
	src, password, err := s.opened(d)
	if err != nil {
		return nil, Source{}, err
	}
	dir, err := directory.New(src.LDAP.config(password))
	if err != nil {
		return nil, Source{}, fmt.Errorf("source %s: %w", d.Name, err)
	}
	if l, ok := s.dirs.m[d.Name]; ok && l.d != nil {
		l.d.Close()
	}
	s.dirs.put(d, liveDir{d: dir, src: src})
	return dir, src, nil
}

// opened returns the settings of d and its secret, opened.
func (s *Service) opened(d store.Directory) (Source, string, error) {
	src, err := s.sourceOf(d)
	if err != nil {
		return Source{}, "", err
	}
	secret := d.Secret
	if s.secrets != nil {
		if secret, err = s.secrets.Open(d.Secret); err != nil {
			return Source{}, "", fmt.Errorf("source %s: open the stored secret: %w", d.Name, err)
		}
	}
	return src, string(secret), nil
}

// put keeps l as the live connection of d (the caller holds mu).
func (c *dirCache) put(d store.Directory, l liveDir) {
	if c.m == nil {
		c.m = map[string]liveDir{}
	}
	l.updated = d.UpdatedAt
	c.m[d.Name] = l
}

// routeSignIn decides who checks the password of login: the source a
// linked user came from, flexidp itself for a local user, and for an
// unknown login the sources that sign in its domain (every source when
// none names it). Without sources it is authenticate. Every path reads
// the store once (GetSignInFacts: the user, what the rest of the sign-in
// decides on, and the sources), so that neither the statements nor the
// time tell whether the account exists.
func (s *Service) routeSignIn(ctx context.Context, login, password string) (SignedIn, error) {
	f, err := s.st.GetSignInFacts(ctx, login)
	if err != nil {
		return SignedIn{}, fmt.Errorf("look up user: %w", err)
	}
	if f.User != nil {
		if f.Link == nil {
			// A local account: its password is flexidp's. The sources of
			// its domain are still searched, as for an unknown login
			// there, so that the time does not tell that it exists.
			if err := s.searchSources(ctx, f.Directories, login); err != nil {
				return SignedIn{}, err
			}
			u, err := s.checkPassword(ctx, *f.User, password) // read once
			return SignedIn{User: u, facts: &f}, err
		}
		i := slices.IndexFunc(f.Directories, func(d store.Directory) bool { return d.Name == f.Link.Directory })
		if i < 0 {
			return SignedIn{}, fmt.Errorf("load source %s: %w", f.Link.Directory, store.ErrNotFound)
		}
		d := f.Directories[i]
		if d.Kind != KindLDAP {
			// Signed in at their provider: no password here, refused
			// after the same hashing time.
			u, err := s.checkPassword(ctx, *f.User, password)
			return SignedIn{User: u, facts: &f}, err
		}
		// The directory's sign-in updates the user: its facts are read
		// anew, after it.
		u, err := s.directorySignIn(ctx, d, login, password, f.Link)
		return SignedIn{User: u}, err
	}
	candidates := slices.DeleteFunc(sourcesFor(f.Directories, login), func(d store.Directory) bool { return d.Kind != KindLDAP })
	if len(candidates) == 0 {
		// No source signs this login in: refused as an unknown local
		// account is, after the same hashing time.
		if err := s.hasher.VerifyDummy(ctx, password); err != nil {
			return SignedIn{}, err
		}
		return SignedIn{}, errUnknownUser
	}
	var down error
	for _, d := range candidates {
		u, err := s.directorySignIn(ctx, d, login, password, nil)
		switch {
		case errors.Is(err, errUnknownUser):
			continue
		case errors.Is(err, ErrDirectoryUnavailable):
			down = err // another source may still know the user
			continue
		}
		return SignedIn{User: u}, err
	}
	if down != nil {
		return SignedIn{}, down
	}
	// Nobody: the hashing time a local account's refusal costs, too.
	if err := s.hasher.VerifyDummy(ctx, password); err != nil {
		return SignedIn{}, err
	}
	return SignedIn{}, errUnknownUser
}

// searchSources searches login in the LDAP sources of ds that sign in
// its domain, as a sign-in there does before it binds (never with the
// password), and forgets the answer. An internal failure is returned; a
// source that cannot be reached costs its timeout, as it does an
// unknown login's sign-in.
func (s *Service) searchSources(ctx context.Context, ds []store.Directory, login string) error {
	for _, d := range sourcesFor(ds, login) {
		if d.Kind != KindLDAP {
			continue
		}
		dir, _, err := s.live(d)
		if err != nil {
			return err
		}
		_ = dir.Find(ctx, login)
	}
	return nil
}

// SignInRoute is what the login page shows of the sources.
type SignInRoute struct {
	// EmailFirst: sources besides flexidp's own passwords are configured,
	// so the page asks for the email first and then says whose password
	// it wants.
	EmailFirst bool
	// Source is the source that signs in the email's domain ("" when no
	// source names it). It depends on the domain only, never on whether
	// an account exists.
	Source string
	// SourceKind is the kind of Source: an OIDC source is not asked for a
	// password, the browser goes to the provider.
	SourceKind string
	// Providers are the OpenID Connect sources the page offers as
	// "Continue with NAME", with the origin of each issuer (where the
	// page's forms may send the browser).
	Providers []RouteProvider
}

// RouteProvider is an OpenID Connect source on the login page.
type RouteProvider struct{ Name, Origin string }

// RouteFor returns the login page's route for email ("" before it is
// known).
func (s *Service) RouteFor(ctx context.Context, email string) (SignInRoute, error) {
	ds, err := s.st.ListDirectories(ctx)
	if err != nil || len(ds) == 0 {
		return SignInRoute{}, err
	}
	r := SignInRoute{EmailFirst: true}
	if named := sourcesFor(ds, users.NormalizeEmail(email)); email != "" && len(named) > 0 && len(named[0].Domains) > 0 {
		r.Source, r.SourceKind = named[0].Name, named[0].Kind
	}
	for _, d := range ds {
		if d.Kind != KindOIDC {
			continue
		}
		src, err := s.sourceOf(d)
		if err != nil {
			return SignInRoute{}, err
		}
		p := RouteProvider{Name: d.Name}
		if u, err := url.Parse(src.OIDC.Issuer); err == nil && u.Host != "" {
			p.Origin = u.Scheme + "://" + u.Host
		}
		r.Providers = append(r.Providers, p)
	}
	return r, nil
}

// sourcesFor returns the sources that sign in login's email domain, or,
// when none names it, the sources that name no domain.
func sourcesFor(ds []store.Directory, login string) []store.Directory {
	domain := ""
	if i := strings.LastIndexByte(login, '@'); i >= 0 {
		domain = strings.ToLower(login[i+1:])
	}
	var named, open []store.Directory
	for _, d := range ds {
		switch {
		case slices.Contains(d.Domains, domain):
			named = append(named, d)
		case len(d.Domains) == 0:
			open = append(open, d)
		}
	}
	if len(named) > 0 {
		return named
	}
	return open
}

// directorySignIn checks login and password with the source d, and
// creates or updates the flexidp user of the entry (just in time). link
// is the link of the local user login named, if any: then the entry must
// be that user's.
func (s *Service) directorySignIn(ctx context.Context, d store.Directory, login, password string, link *store.DirectoryLink) (users.User, error) {
	dir, src, err := s.live(d)
	if err != nil {
		return users.User{}, err
	}
	e, err := dir.Authenticate(ctx, login, password)
	switch {
	case errors.Is(err, directory.ErrNoUser):
		return users.User{}, errUnknownUser
	case errors.Is(err, directory.ErrWrongPassword):
		if link != nil {
			return users.User{ID: link.UserID}, errWrongPassword
		}
		return users.User{}, errWrongPassword
	case err != nil:
		s.log.WarnContext(ctx, "directory unavailable", "directory", d.Name, "err", err)
		return users.User{}, unavailable(d.Name, err)
	}
	if link != nil && link.ExternalID != e.ID {
		// The email names a user linked to another entry: not this one.
		return users.User{ID: link.UserID}, errUnknownUser
	}
	return s.syncEntry(ctx, src, e)
}

// syncEntry creates the user of a directory entry at their first sign-in,
// and keeps their profile and disabled state in step afterwards; every
// change is audited with the actor "directory:<name>". A user disabled in
// the directory is disabled in flexidp (and their sessions end); one
// enabled there keeps flexidp's state, so an administrator's disable
// stands.
func (s *Service) syncEntry(ctx context.Context, src Source, e directory.Entry) (users.User, error) {
	actor := Actor{Name: "directory:" + src.Name}
	groups := src.mapGroups(e.Groups)
	link, err := s.st.GetLinkByExternalID(ctx, src.Name, e.ID)
	if errors.Is(err, store.ErrNotFound) {
		if e.Disabled {
			return users.User{}, errUnknownUser // a leaver never gets an account
		}
		u := users.User{ID: s.NewUserID(), Email: users.NormalizeEmail(e.Email), FullName: e.FullName, GivenName: e.GivenName, FamilyName: e.FamilyName}
		if err := u.Validate(); err != nil {
			return users.User{}, fmt.Errorf("directory %s entry %s: %w", src.Name, e.DN, err)
		}
		if err := s.st.CreateUser(ctx, u); errors.Is(err, store.ErrConflict) {
			// A local account has this email: never taken over.
			s.log.WarnContext(ctx, "directory user's email belongs to a local account", "directory", src.Name, "email", u.Email)
			return users.User{}, errUnknownUser
		} else if err != nil {
			return users.User{}, err
		}
		if err := s.st.LinkUser(ctx, store.DirectoryLink{UserID: u.ID, Directory: src.Name, ExternalID: e.ID}); err != nil {
			_ = s.st.DeleteUser(ctx, u.ID)
			return users.User{}, fmt.Errorf("link user to directory %s: %w", src.Name, err)
		}
		u, err = s.st.GetUser(ctx, u.ID)
		if err != nil {
			return users.User{}, err
		}
		_ = s.audit(ctx, actor, Change{Action: "user.add", User: &u, After: UserView(u), Reason: "first sign-in through the directory"})
		s.auditGroups(ctx, actor, u, groups)
		if err := s.syncGroups(ctx, actor, src, u, groups); err != nil {
			return users.User{}, err
		}
		return u, nil
	} else if err != nil {
		return users.User{}, fmt.Errorf("look up directory link: %w", err)
	}
	return s.keepInStep(ctx, src, link, &e, groups)
}

// keepInStep applies the directory's entry e to the linked user (nil: the
// entry left the directory, and the user is disabled), audited with the
// actor "directory:<name>".
func (s *Service) keepInStep(ctx context.Context, src Source, link store.DirectoryLink, e *directory.Entry, groups []string) (users.User, error) {
	actor := Actor{Name: "directory:" + src.Name}
	reason := "disabled in the directory"
	if e == nil {
		reason = "no longer in the directory"
	}
	var before users.User
	u, err := s.st.UpdateUser(ctx, link.UserID, func(cur users.User) (users.User, error) {
		before = cur
		if e == nil {
			cur.Disable()
			return cur, nil
		}
		cur.Email = users.NormalizeEmail(e.Email)
		cur.FullName, cur.GivenName, cur.FamilyName = e.FullName, e.GivenName, e.FamilyName
		if e.Disabled && !cur.Disabled {
			cur.Disable()
		}
		return cur, cur.Validate()
	})
	if errors.Is(err, store.ErrConflict) {
		// The directory's new email belongs to another account.
		s.log.WarnContext(ctx, "directory user's new email belongs to another account", "directory", src.Name, "user", link.UserID)
		return users.User{ID: link.UserID}, errUnknownUser
	} else if err != nil {
		return users.User{}, fmt.Errorf("keep user %s in step with directory %s: %w", link.UserID, src.Name, err)
	}
	if u.Disabled && !before.Disabled {
		ended, err := s.st.DeleteUserSessions(ctx, u.ID)
		if err != nil {
			return users.User{}, err
		}
		_ = s.audit(ctx, actor, Change{Action: "user.disable", User: &u, Before: UserView(before), After: UserView(u),
			Reason: reason + "; " + sessionsEnded(ended)})
	} else if !slices.Equal(viewKey(before), viewKey(u)) {
		_ = s.audit(ctx, actor, Change{Action: "user.update", User: &u, Before: UserView(before), After: UserView(u), Reason: "kept in step with the directory"})
	}
	s.auditGroups(ctx, actor, u, groups)
	if e != nil {
		// A leaver (e nil) keeps their memberships: they are disabled.
		if err := s.syncGroups(ctx, actor, src, u, groups); err != nil {
			return users.User{}, err
		}
	}
	return u, nil
}

// DirectorySyncInterval is how often a server re-reads every directory
// user (SyncDirectories), so that a leaver's live sessions end without
// waiting for their next sign-in.
const DirectorySyncInterval = 15 * time.Minute

// DirectorySync is what one SyncDirectories run did.
type DirectorySync struct {
	Checked, Disabled int
}

// SyncDirectories re-reads the entry of every user linked to a source and
// keeps the user in step: one whose entry is disabled, deleted or moved
// out of the users' base is disabled and their sessions end. A source
// that cannot be reached is skipped (an outage disables nobody) and
// reported in the error.
func (s *Service) SyncDirectories(ctx context.Context) (DirectorySync, error) {
	var sum DirectorySync
	ds, err := s.st.ListDirectories(ctx)
	if err != nil {
		return sum, err
	}
	var errs []error
	for _, d := range ds {
		if d.Kind != KindLDAP {
			continue // a provider cannot be asked about a person who is not signing in
		}
		dir, src, err := s.live(d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		links, err := s.st.ListDirectoryLinks(ctx, d.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
	links:
		for _, link := range links {
			e, err := dir.Entry(ctx, link.ExternalID)
			var entry *directory.Entry // nil: the entry left the directory
			switch {
			case err == nil:
				entry = &e
			case !errors.Is(err, directory.ErrNoUser):
				errs = append(errs, unavailable(d.Name, err))
				break links // the source is down: nobody is disabled, next time
			}
			u, err := s.st.GetUser(ctx, link.UserID)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			sum.Checked++
			if u.Disabled {
				continue
			}
			var groups []string
			if entry != nil {
				groups = MapGroups(src.LDAP.Groups, entry.Groups)
			}
			after, err := s.keepInStep(ctx, src, link, entry, groups)
			if err != nil && !errors.Is(err, errUnknownUser) {
				errs = append(errs, err)
			} else if after.Disabled {
				sum.Disabled++
			}
		}
	}
	return sum, errors.Join(errs...)
}

// auditGroups records the flexidp groups the user's directory groups map
// to (syncGroups applies them).
func (s *Service) auditGroups(ctx context.Context, actor Actor, u users.User, groups []string) {
	if len(groups) == 0 {
		return
	}
	_ = s.audit(ctx, actor, Change{Action: "user.directory-groups", User: &u, After: map[string]any{"groups": groups}})
}

func viewKey(u users.User) []string {
	return []string{u.Email, u.FullName, u.GivenName, u.FamilyName, fmt.Sprint(u.Disabled)}
}
