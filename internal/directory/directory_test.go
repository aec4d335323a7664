package directory

import (
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/ldaptest"
)

func config(s *ldaptest.Server) Config {
	return Config{URLs: []string{s.LDAPS}, CAPEM: s.CAPEM, BindDN: ldaptest.ServiceDN, BindPassword: ldaptest.ServicePW,
		UserBase: ldaptest.UsersDN, GroupBase: ldaptest.GroupsDN, DisabledFilter: ldaptest.DisabledAD}
}

func canon(dns ...string) []string {
	out := make([]string, len(dns))
	for i, dn := range dns {
		out[i] = Canonical(dn)
	}
	slices.Sort(out)
	return out
}

// deadURL is an ldaps:// URL on a loopback port nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "ldaps://" + addr
}

// TestAuthenticate runs sign-ins against a real slapd with an AD-like tree.
func TestAuthenticate(t *testing.T) {
	s := ldaptest.Start(t)
	otherCA, _, _, err := ldaptest.NewCA([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	aliceGroups := canon(ldaptest.AgentsDN, ldaptest.FloorDN, ldaptest.LoopADN, ldaptest.LoopBDN)
	for _, tc := range []struct {
		name        string
		cfg         func(*Config)
		login, pw   string
		wantErr     error
		unavailable bool
		wantDN      string
		wantGroups  []string
		disabled    bool
	}{
		{name: "sAMAccountName over ldaps", login: "alice", pw: ldaptest.AlicePW, wantDN: ldaptest.AliceDN, wantGroups: aliceGroups},
		{name: "userPrincipalName", login: "alice@acme.test", pw: ldaptest.AlicePW, wantDN: ldaptest.AliceDN, wantGroups: aliceGroups},
		{name: "case and spaces", login: "  ALICE ", pw: ldaptest.AlicePW, wantDN: ldaptest.AliceDN, wantGroups: aliceGroups},
		{name: "StartTLS", cfg: func(c *Config) { c.URLs, c.StartTLS = []string{s.URL}, true }, login: "alice", pw: ldaptest.AlicePW,
			wantDN: ldaptest.AliceDN, wantGroups: aliceGroups},
		{name: "plain LDAP explicitly allowed", cfg: func(c *Config) { c.URLs, c.AllowPlain, c.CAPEM = []string{s.URL}, true, nil },
			login: "alice", pw: ldaptest.AlicePW, wantDN: ldaptest.AliceDN, wantGroups: aliceGroups},
		{name: "nested three levels", login: "sam", pw: ldaptest.SamPW, wantDN: ldaptest.SamDN,
			wantGroups: canon(ldaptest.LeadsDN, ldaptest.SupersDN, ldaptest.FloorDN)},
		{name: "nesting bounded", cfg: func(c *Config) { c.MaxNesting = 1 }, login: "sam", pw: ldaptest.SamPW, wantDN: ldaptest.SamDN,
			wantGroups: canon(ldaptest.LeadsDN)},
		{name: "disabled user", login: "bob", pw: ldaptest.BobPW, wantDN: ldaptest.BobDN, disabled: true,
			wantGroups: canon(ldaptest.AgentsDN, ldaptest.FloorDN, ldaptest.LoopADN, ldaptest.LoopBDN)},
		{name: "disabled filter of another directory", cfg: func(c *Config) { c.DisabledFilter = "(pwdAccountLockedTime=*)" },
			login: "bob", pw: ldaptest.BobPW, wantDN: ldaptest.BobDN, wantGroups: canon(ldaptest.AgentsDN, ldaptest.FloorDN, ldaptest.LoopADN, ldaptest.LoopBDN)},
		{name: "wrong password", login: "alice", pw: "wrong", wantErr: ErrWrongPassword},
		{name: "empty password never binds", login: "alice", pw: "", wantErr: ErrWrongPassword},
		{name: "outside the search base", login: "carl", pw: ldaptest.CarlPW, wantErr: ErrNoUser},
		{name: "unknown user", login: "nobody", pw: "x", wantErr: ErrNoUser},
		{name: "injection", login: "*)(uid=*", pw: ldaptest.AlicePW, wantErr: ErrNoUser},
		{name: "wildcard", login: "ali*", pw: ldaptest.AlicePW, wantErr: ErrNoUser},
		{name: "fallback when the primary is down", cfg: func(c *Config) { c.URLs = []string{deadURL(t), s.LDAPS} },
			login: "alice", pw: ldaptest.AlicePW, wantDN: ldaptest.AliceDN, wantGroups: aliceGroups},
		{name: "every server down", cfg: func(c *Config) { c.URLs = []string{deadURL(t), deadURL(t)} },
			login: "alice", pw: ldaptest.AlicePW, unavailable: true},
		{name: "wrong CA refused", cfg: func(c *Config) { c.CAPEM = otherCA }, login: "alice", pw: ldaptest.AlicePW, unavailable: true},
		{name: "StartTLS with the wrong CA refused", cfg: func(c *Config) { c.URLs, c.StartTLS, c.CAPEM = []string{s.URL}, true, otherCA },
			login: "alice", pw: ldaptest.AlicePW, unavailable: true},
		{name: "service account refused", cfg: func(c *Config) { c.BindPassword = "wrong" }, login: "alice", pw: ldaptest.AlicePW, unavailable: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(s)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			d, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			e, err := d.Authenticate(t.Context(), tc.login, tc.pw)
			var un *UnavailableError
			switch {
			case tc.unavailable:
				if !errors.As(err, &un) {
					t.Fatalf("err = %v, want *UnavailableError", err)
				}
				return
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if e.DN != tc.wantDN || e.ID != Canonical(tc.wantDN) || e.Disabled != tc.disabled {
				t.Errorf("entry %+v, want DN %s, disabled %v", e, tc.wantDN, tc.disabled)
			}
			if !slices.Equal(e.Groups, tc.wantGroups) {
				t.Errorf("groups\n%q\nwant\n%q", e.Groups, tc.wantGroups)
			}
			if !strings.Contains(e.Email, "@acme.test") || e.FullName == "" || e.GivenName == "" || e.FamilyName == "" {
				t.Errorf("profile incomplete: %+v", e)
			}
		})
	}
}

// TestPoolReuse: a pooled connection survives a verdict and serves the
// next sign-in.
func TestPoolReuse(t *testing.T) {
	s := ldaptest.Start(t)
	d, err := New(config(s))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Authenticate(t.Context(), "alice", "wrong"); !errors.Is(err, ErrWrongPassword) {
		t.Fatal(err)
	}
	if len(d.idle) != 1 {
		t.Fatalf("%d idle connections after a refused password, want 1", len(d.idle))
	}
	if _, err := d.Authenticate(t.Context(), "alice", ldaptest.AlicePW); err != nil {
		t.Fatal(err)
	}
	if len(d.idle) != 1 {
		t.Fatalf("%d idle connections, want the one reused", len(d.idle))
	}
	if err := d.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestCloseInUse: a connection in use when the source changed (Close) is
// closed when it comes back, not pooled for ever.
func TestCloseInUse(t *testing.T) {
	s := ldaptest.Start(t)
	d, err := New(config(s))
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	d.put(c)
	if len(d.idle) != 0 || !c.IsClosing() {
		t.Errorf("after Close: %d idle, closing %v; want the connection closed", len(d.idle), c.IsClosing())
	}
}

func TestValidate(t *testing.T) {
	ok := Config{URLs: []string{"ldaps://dc1.acme.test"}, CAPEM: mustCA(t), BindDN: "cn=svc,dc=acme,dc=test", BindPassword: "x", UserBase: "dc=acme,dc=test"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		f    func(*Config)
		want string
	}{
		{"no URL", func(c *Config) { c.URLs = nil }, "at least one server"},
		{"http URL", func(c *Config) { c.URLs = []string{"http://dc1"} }, "not ldaps://"},
		{"plain not allowed", func(c *Config) { c.URLs = []string{"ldap://dc1"} }, "in the clear"},
		{"no CA", func(c *Config) { c.CAPEM = nil }, "pinned"},
		{"CA not PEM", func(c *Config) { c.CAPEM = []byte("nope") }, "not a PEM"},
		{"no service account", func(c *Config) { c.BindPassword = "" }, "service account"},
		{"bad base", func(c *Config) { c.UserBase = "acme" }, "not a DN"},
		{"bad filter", func(c *Config) { c.DisabledFilter = "(uac=2" }, "not a valid LDAP filter"},
		{"bad login attribute", func(c *Config) { c.LoginAttrs = []string{"mail)(uid"} }, "not an attribute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.f(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

func mustCA(t *testing.T) []byte {
	t.Helper()
	ca, _, _, err := ldaptest.NewCA([]string{"dc1.acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestCanonical(t *testing.T) {
	if a, b := Canonical("CN=Agents, OU=Groups,DC=Acme,DC=test"), Canonical("cn=agents,ou=groups,dc=acme,dc=test"); a != b {
		t.Errorf("%q != %q", a, b)
	}
}

// TestEntry: the periodic sync's re-read finds a user by DN, and not one
// deleted or outside the users' base.
func TestEntry(t *testing.T) {
	s := ldaptest.Start(t)
	d, err := New(config(s))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	e, err := d.Entry(t.Context(), Canonical(ldaptest.BobDN))
	if err != nil || e.DN != ldaptest.BobDN || !e.Disabled || e.Email != "bob@acme.test" {
		t.Fatalf("Entry(bob) = %+v, %v", e, err)
	}
	for _, dn := range []string{ldaptest.CarlDN, "cn=Nobody," + ldaptest.UsersDN, ldaptest.AgentsDN} {
		if _, err := d.Entry(t.Context(), dn); !errors.Is(err, ErrNoUser) {
			t.Errorf("Entry(%s): %v, want ErrNoUser", dn, err)
		}
	}
}
