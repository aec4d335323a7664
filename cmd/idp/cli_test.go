package main

import (
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/samltest"
)

func TestHelpOnEveryCommand(t *testing.T) {
	e := &testEnv{t: t, getenv: map[string]string{}}
	var walk func(prefix []string, cmds map[string]command)
	walk = func(prefix []string, cmds map[string]command) {
		for name, c := range cmds {
			args := append(append([]string{}, prefix...), name)
			if c.sub != nil {
				out := e.cli("", append(args, "--help")...)
				if !strings.Contains(out, "Commands:") {
					t.Errorf("idp %s --help lists no commands:\n%s", strings.Join(args, " "), out)
				}
				walk(args, c.sub)
				continue
			}
			out := e.cli("", append(args, "--help")...)
			if !strings.Contains(out, "Usage: idp "+strings.Join(args, " ")) {
				t.Errorf("idp %s --help:\n%s", strings.Join(args, " "), out)
			}
		}
	}
	walk(nil, commands())
	if out := e.cliWant(2, ""); !strings.Contains(out, "a command is required") {
		t.Errorf("idp without arguments: %s", out)
	}
	if out := e.cliWant(2, "", "frobnicate"); !strings.Contains(out, `unknown command "idp frobnicate"`) {
		t.Errorf("unknown command: %s", out)
	}
	if out := e.cliWant(2, "", "serve", "--no-such-flag"); !strings.Contains(out, "no-such-flag") {
		t.Errorf("unknown flag: %s", out)
	}
	if out := e.cli("", "version"); !strings.HasPrefix(out, "flexidp ") {
		t.Errorf("version: %s", out)
	}
}

func TestServeRefusesBadConfiguration(t *testing.T) {
	e := &testEnv{t: t, getenv: map[string]string{}}
	cases := []struct {
		name string
		args []string
		says string
	}{
		{"missing base URL", []string{"serve", "--database-url", "sqlite:///tmp/x.db"}, "IDP_BASE_URL"},
		{"base URL not a URL", []string{"serve", "--base-url", "idp.example.com"}, "not an absolute http(s) URL"},
		{"base URL with query", []string{"serve", "--base-url", "https://idp.example.com/?a=b"}, "must not contain a query"},
		{"http outside localhost", []string{"serve", "--base-url", "http://idp.example.com"}, "https"},
		{"missing database", []string{"serve", "--base-url", "https://idp.example.com"}, "IDP_DATABASE_URL"},
		{"unknown database scheme", []string{"serve", "--base-url", "https://idp.example.com", "--database-url", "mysql://x"}, "postgres://"},
		{"unreachable database", []string{"serve", "--base-url", "https://idp.example.com", "--database-url", "postgres://flexidp:secret@127.0.0.1:1/flexidp?connect_timeout=2"}, "connect to PostgreSQL at 127.0.0.1:1"},
		{"key without certificate", []string{"serve", "--base-url", "https://idp.example.com", "--database-url", "sqlite:///tmp/x.db", "--signing-key-file", "/tmp/k.pem"}, "must be set together"},
		{"weak key encryption key", []string{"serve", "--base-url", "https://idp.example.com", "--database-url", "sqlite:///tmp/x.db", "--key-encryption-key", "short"}, "at least 16 characters"},
		{"bad log level", []string{"serve", "--log-level", "loud"}, "log level"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := e.cliWant(1, "", c.args...)
			if !strings.Contains(out, c.says) {
				t.Fatalf("error %q does not say %q", out, c.says)
			}
			if strings.Contains(out, "secret") {
				t.Fatalf("error leaks the database password: %s", out)
			}
		})
	}
}

func TestAdminCommands(t *testing.T) {
	e := newTestEnv(t)
	// Flex presets: the audience is derived from the ACS URL.
	out := e.cli("", "sp", "add-flex", "--name", "enhanced", "--acs", flexACS)
	if !strings.Contains(out, "urn:flex:"+flexConn) {
		t.Fatalf("Enhanced SSO audience not derived:\n%s", out)
	}
	out = e.cli("", "sp", "add-flex", "--name", "legacy", "--acs", "https://iam.twilio.com/v1/Accounts/AC0123456789abcdef0123456789abcdef/saml2")
	if !strings.Contains(out, "https://iam.twilio.com/v1/Accounts/AC0123456789abcdef0123456789abcdef/saml2/metadata") {
		t.Fatalf("Legacy SSO audience not derived:\n%s", out)
	}
	if out := e.cliWant(1, "", "sp", "add-flex", "--name", "odd", "--acs", "https://iam.twilio.com/v2/saml2/authenticate/FO0123"); !strings.Contains(out, "--audience") {
		t.Fatalf("underivable ACS: %s", out)
	}
	e.cli("", "sp", "add-flex", "--name", "odd", "--acs", "https://iam.twilio.com/v2/saml2/authenticate/FO0123", "--audience", "urn:flex:JQffffffffffffffffffffffffffffffff")
	if out := e.cliWant(1, "", "sp", "add-flex", "--name", "again", "--acs", flexACS); !strings.Contains(out, "already exists") {
		t.Fatalf("duplicate entity ID: %s", out)
	}
	if out := e.cliWant(1, "", "sp", "add", "--name", "evil", "--entity-id", "urn:x", "--acs", "http://evil.example.com/acs"); !strings.Contains(out, "https") {
		t.Fatalf("http ACS outside localhost accepted: %s", out)
	}
	if out := e.cliWant(1, "", "sp", "set", "--sp", "enhanced", "--default-redirect-url", "https://flex.example.com/"+strings.Repeat("a", 80)); !strings.Contains(out, "80 bytes") {
		t.Fatalf("long Default Redirect URL: %s", out)
	}
	out = e.cli("", "sp", "list")
	for _, n := range []string{"enhanced", "legacy", "odd"} {
		if !strings.Contains(out, n) {
			t.Fatalf("sp list lacks %s:\n%s", n, out)
		}
	}
	e.cli("", "sp", "remove", "--sp", "odd")
	if out := e.cliWant(1, "", "sp", "show", "--sp", "odd"); !strings.Contains(out, "no service provider") {
		t.Fatalf("removed SP still shown: %s", out)
	}

	// Users: password from stdin, never a flag; case-insensitive emails.
	e.cli("long enough password\n", "users", "add", "--email", "Ada@Example.com", "--name", "Ada", "--roles", "admin")
	if out := e.cliWant(1, "short\n", "users", "add", "--email", "bob@example.com"); !strings.Contains(out, "at least 8") {
		t.Fatalf("short password: %s", out)
	}
	if out := e.cliWant(1, "long enough password\n", "users", "add", "--email", "ada@example.COM"); !strings.Contains(out, "already exists") {
		t.Fatalf("duplicate email (other case): %s", out)
	}
	if out := e.cliWant(1, "", "users", "add", "--email", "not-an-email", "--no-password"); !strings.Contains(out, "not a valid email") {
		t.Fatalf("bad email: %s", out)
	}
	out = e.cli("", "users", "show", "--email", "ada@example.com")
	for _, s := range []string{"Ada@Example.com", "admin", "argon2id"} {
		if !strings.Contains(out, s) {
			t.Fatalf("users show lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "$argon2id$") {
		t.Fatal("users show prints the password hash")
	}
	// Admin changes are audited in the store and logged as structured JSON.
	if out := e.cli("", "users", "disable", "--email", "ada@example.com"); !strings.Contains(out, `"msg":"audit","action":"admin.user.disable"`) {
		t.Fatalf("users disable logged no audit line:\n%s", out)
	}
	if out := e.cli("", "users", "list"); !strings.Contains(out, "disabled") {
		t.Fatalf("users list does not show the disabled user:\n%s", out)
	}
	e.cli("", "users", "enable", "--email", "ada@example.com")
	e.cli("new long password\n", "users", "set-password", "--email", "ada@example.com")
	e.cli("", "users", "delete", "--email", "ada@example.com")
	if out := e.cliWant(1, "", "users", "show", "--email", "ada@example.com"); !strings.Contains(out, "no user") {
		t.Fatalf("deleted user still shown: %s", out)
	}
}

// TestSPDisplayName sets the name people read with --display-name on
// add-flex, add and set, shows it, clears it, and refuses a bad one with
// the field named.
func TestSPDisplayName(t *testing.T) {
	e := newTestEnv(t)
	e.cli("", "sp", "add-flex", "--name", "support", "--acs", flexACS, "--display-name", "Acme Support (Flex)")
	samltest.MustContain(t, e.cli("", "sp", "show", "--sp", "support"), "Acme Support (Flex)")
	e.cli("", "sp", "add", "--name", "wiki", "--entity-id", "urn:wiki", "--acs", "https://wiki.example.com/acs", "--display-name", "Team wiki")
	samltest.MustContain(t, e.cli("", "sp", "show", "--sp", "wiki"), "Team wiki")

	e.cli("", "sp", "set", "--sp", "support", "--display-name", "Acme Sales (Flex)")
	out := e.cli("", "sp", "show", "--sp", "support")
	if !strings.Contains(out, "Acme Sales (Flex)") || strings.Contains(out, "Acme Support") {
		t.Fatalf("sp set --display-name did not replace the display name:\n%s", out)
	}
	for _, bad := range []string{strings.Repeat("x", 101), "Acme\nSupport", " Acme"} {
		if out := e.cliWant(1, "", "sp", "set", "--sp", "support", "--display-name", bad); !strings.Contains(out, "display_name") {
			t.Errorf("--display-name %q: error %q does not name the field", bad, out)
		}
	}
	samltest.MustContain(t, e.cli("", "sp", "show", "--sp", "support"), "Acme Sales (Flex)")
	e.cli("", "sp", "set", "--sp", "support", "--display-name", "")
	samltest.MustContain(t, e.cli("", "sp", "show", "--sp", "support"), "none (the name is shown)")
}
