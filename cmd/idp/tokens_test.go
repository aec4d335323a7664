package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestTokensCommands: idp tokens create prints the token once (on stdout,
// alone, with the fidp_ prefix), list shows name, scopes and status but
// never the secret, revoke marks it revoked; bad scopes and lifetimes are
// refused with a sentence.
func TestTokensCommands(t *testing.T) {
	e := newTestEnv(t)
	out := e.cli("", "tokens", "create", "--name", "okta", "--scope", "scim,users:read", "--expires", "30d")
	bearer := regexp.MustCompile(`fidp_[0-9a-f]{16}_[A-Za-z0-9_-]{43}`).FindString(out)
	if bearer == "" {
		t.Fatalf("tokens create printed no token:\n%s", out)
	}
	list := e.cli("", "tokens", "list")
	if !strings.Contains(list, "okta") || !strings.Contains(list, "scim,users:read") || !strings.Contains(list, "active") {
		t.Fatalf("tokens list:\n%s", list)
	}
	if strings.Contains(list, bearer[len(bearer)-43:]) {
		t.Fatal("tokens list shows the secret")
	}
	e.cli("", "tokens", "revoke", "--name", "okta")
	if list := e.cli("", "tokens", "list"); !strings.Contains(list, "revoked") {
		t.Fatalf("tokens list after revoke:\n%s", list)
	}
	if out := e.cliWant(1, "", "tokens", "create", "--name", "x", "--scope", "root"); !strings.Contains(out, "not a scope") {
		t.Fatalf("unknown scope: %s", out)
	}
	if out := e.cliWant(2, "", "tokens", "create", "--name", "x", "--scope", "scim", "--expires", "soon"); !strings.Contains(out, "--expires") {
		t.Fatalf("bad lifetime: %s", out)
	}
	if out := e.cliWant(1, "", "tokens", "revoke", "--name", "nobody"); !strings.Contains(out, "no API token") {
		t.Fatalf("revoke unknown: %s", out)
	}
}
