package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	crewjam "github.com/crewjam/saml"

	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/store/sqlite"
)

// TestDevHintReachesDevDatabase runs the command `idp dev` prints for
// registering Flex, exactly as printed, and finds the SP in the database
// that idp dev serves, even with another database configured in the shell.
func TestDevHintReachesDevDatabase(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "custom", "dev.db")
	dev := startDev(t, data)
	m := regexp.MustCompile("`(idp sp add-flex [^`]*)`").FindStringSubmatch(dev.output)
	if m == nil {
		t.Fatalf("idp dev prints no add-flex command:\n%s", dev.output)
	}
	cmd := strings.ReplaceAll(m[1], "<ACS URL from the Flex console>", flexACS)
	// The admin's shell has its own default data directory: the hint must
	// not depend on it.
	e := &testEnv{t: t, getenv: map[string]string{"XDG_DATA_HOME": filepath.Join(dir, "elsewhere")}}
	e.cli("", strings.Fields(cmd)[1:]...)

	st, err := sqlite.Open(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := st.GetServiceProvider(context.Background(), "flex")
	if err != nil {
		t.Fatalf("after `%s`, the dev database has no Flex SP: %v", cmd, err)
	}
	if s.EntityID != "urn:flex:"+flexConn {
		t.Fatalf("SP entity ID = %q", s.EntityID)
	}
	// And the dev database answers `idp sp list --data` too.
	if out := e.cli("", "sp", "list", "--data", data); !strings.Contains(out, "urn:flex:"+flexConn) {
		t.Fatalf("idp sp list --data does not show the SP:\n%s", out)
	}
}

// TestDevBannerSaysHowToGetIdp: the banner's commands use `idp`, which a
// clone of the repository does not put on the PATH.
func TestDevBannerSaysHowToGetIdp(t *testing.T) {
	dev := startDev(t, filepath.Join(t.TempDir(), "dev.db"))
	if !strings.Contains(dev.output, "go install ./cmd/idp") {
		t.Fatalf("idp dev does not say how to install idp:\n%s", dev.output)
	}
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "idp"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if !onPath(&environment{getenv: envMap{"PATH": "/nonexistent:" + bin}.get}, "idp") {
		t.Fatal("onPath does not find an idp on the PATH")
	}
	if onPath(&environment{getenv: envMap{"PATH": "/nonexistent"}.get}, "idp") {
		t.Fatal("onPath finds idp where there is none")
	}
}

type envMap map[string]string

func (m envMap) get(k string) string { return m[k] }

// TestAdminCommandsRefuseMissingDatabase: a mistyped SQLite URL or path
// must not create an empty database for an admin command to list.
func TestAdminCommandsRefuseMissingDatabase(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nonexistent", "dir", "x.db")
	cases := []struct {
		name string
		env  map[string]string
		args []string
		says []string
	}{
		{"URL to a missing file", nil, []string{"users", "list", "--database-url", "sqlite://" + missing}, []string{"no database at " + missing, "idp migrate", "idp dev"}},
		{"--data to a missing file", nil, []string{"sp", "list", "--data", missing}, []string{"no database at " + missing}},
		{"IDP_DATABASE_URL to a missing file", map[string]string{"IDP_DATABASE_URL": "sqlite://" + missing}, []string{"audit", "tail"}, []string{"no database at " + missing}},
		{"no dev database yet", map[string]string{"XDG_DATA_HOME": filepath.Join(dir, "xdg")}, []string{"users", "list"}, []string{"no database at " + filepath.Join(dir, "xdg", "flexidp", "dev.db")}},
		{"relative URL", nil, []string{"users", "list", "--database-url", "sqlite://tmp/x.db"}, []string{"ambiguous", "sqlite:///tmp/x.db", "--data tmp/x.db"}},
		{"both flags", nil, []string{"users", "list", "--database-url", "sqlite://" + missing, "--data", missing}, []string{"not both"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := &testEnv{t: t, getenv: c.env}
			code := 1
			if c.name == "both flags" {
				code = 2
			}
			out := e.cliWant(code, "", c.args...)
			for _, s := range c.says {
				if !strings.Contains(out, s) {
					t.Errorf("output does not say %q:\n%s", s, out)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "nonexistent")); err == nil {
				t.Fatal("the admin command created the missing directory")
			}
			if _, err := os.Stat(filepath.Join(dir, "xdg")); err == nil {
				t.Fatal("the admin command created a development database")
			}
		})
	}
	// serve refuses the relative URL too, rather than guess.
	e := &testEnv{t: t, getenv: map[string]string{}}
	if out := e.cliWant(1, "", "migrate", "--database-url", "sqlite://tmp/x.db"); !strings.Contains(out, "ambiguous") {
		t.Fatalf("migrate with a relative SQLite URL: %s", out)
	}
	// migrate creates it; then admin commands use it.
	e.cli("", "migrate", "--database-url", "sqlite://"+missing)
	e.cli("", "users", "list", "--database-url", "sqlite://"+missing)
}

// TestInviteWritesNothingOnFailure: an invite that cannot print its link
// (no base URL, bad --expires, half-configured SMTP) must not add the user.
func TestInviteWritesNothingOnFailure(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		args []string
		says string
	}{
		{"no base URL", nil, nil, "base URL"},
		{"bad expiry", map[string]string{"IDP_BASE_URL": "https://idp.example.com"}, []string{"--expires", "9999h"}, "--expires"},
		{"SMTP without sender", map[string]string{"IDP_BASE_URL": "https://idp.example.com", "IDP_SMTP_HOST": "127.0.0.1"}, nil, "IDP_SMTP_FROM"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, st := sqliteEnv(t)
			for k, v := range c.env {
				e.getenv[k] = v
			}
			args := append([]string{"users", "invite", "--email", "new@example.com", "--roles", "agent"}, c.args...)
			env, out, errb := e.env("")
			if code := run(t.Context(), env, args); code == 0 {
				t.Fatalf("invite succeeded:\n%s%s", out, errb)
			}
			if !strings.Contains(errb.String(), c.says) {
				t.Errorf("error does not say %q:\n%s", c.says, errb)
			}
			if strings.Contains(out.String(), "added user") {
				t.Errorf("invite says it added the user:\n%s", out)
			}
			if _, err := st.GetUserByEmail(t.Context(), "new@example.com"); err == nil {
				t.Fatal("the failed invite added the user")
			}
		})
	}
}

// TestCLIUsesTheServersBaseURL: with no IDP_BASE_URL in the admin's shell,
// flex setup-values, users preview --xml and users reset-link use the base
// URL the running idp dev serves, neither refusing nor assuming another.
func TestCLIUsesTheServersBaseURL(t *testing.T) {
	data := filepath.Join(t.TempDir(), "dev.db")
	dev := startDev(t, data, "--acs", flexACS)
	e := &testEnv{t: t, getenv: map[string]string{}}

	out := e.cli("", "flex", "setup-values", "--data", data)
	if !strings.Contains(out, "Single Sign-On URL:        "+dev.base+"/saml/sso") {
		t.Errorf("setup-values does not use the dev server's base URL %s:\n%s", dev.base, out)
	}
	out = e.cli("", "users", "preview", "--data", data, "--email", "agent@example.com", "--sp", "flex", "--xml")
	if !strings.Contains(out, ">"+dev.base+"/saml/metadata</") {
		t.Errorf("preview --xml does not use the dev server's base URL %s as Issuer:\n%s", dev.base, out)
	}
	out = e.cli("", "users", "reset-link", "--data", data, "--email", "agent@example.com")
	if !strings.Contains(out, dev.base+"/password?token=") {
		t.Errorf("reset-link does not point to the dev server %s:\n%s", dev.base, out)
	}
	// An explicit --base-url still wins.
	out = e.cli("", "flex", "setup-values", "--data", data, "--base-url", "https://idp.example.com")
	if !strings.Contains(out, "https://idp.example.com/saml/sso") {
		t.Errorf("--base-url is not used:\n%s", out)
	}
}

// TestSetAttrRefusesUnknownTypeSuffix: set-attr foo.float=abc stored a
// string attribute named foo.float.
func TestSetAttrRefusesUnknownTypeSuffix(t *testing.T) {
	e, st := sqliteEnv(t)
	e.cli("", "users", "add", "--email", "ada@example.com", "--roles", "agent", "--no-password")
	out := e.cliWant(1, "", "users", "set-attr", "--email", "ada@example.com", "foo.float=abc")
	for _, s := range []string{"not a Flex type suffix", "booleanarray", `did you mean "foo.string"`} {
		if !strings.Contains(out, s) {
			t.Errorf("set-attr foo.float=abc does not say %q:\n%s", s, out)
		}
	}
	u, err := st.GetUserByEmail(t.Context(), "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := u.Attributes["foo.float"]; ok {
		t.Fatal("foo.float was stored")
	}
}

// TestDevPortInUse: idp dev on a port in use says so, and what to do,
// without first printing the banner of an IdP that is not running.
func TestDevPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	e := &testEnv{t: t, getenv: map[string]string{}}
	out := e.cliWant(1, "", "dev", "--data", filepath.Join(t.TempDir(), "dev.db"), "--listen", ln.Addr().String(), "--hash-memory", "64")
	if !strings.Contains(out, "already in use") || !strings.Contains(out, "--listen") {
		t.Errorf("the error does not say the port is in use and --listen:\n%s", out)
	}
	for _, s := range []string{"Demo users", "Twilio Console", "BEGIN CERTIFICATE"} {
		if strings.Contains(out, s) {
			t.Errorf("idp dev printed its banner (%q) before failing to listen:\n%s", s, out)
		}
	}
}

// TestDevSaysWhenACSReplacesTheFlexSP: restarting idp dev with the ACS of
// another Flex account replaces the registered one; it must say so.
func TestDevSaysWhenACSReplacesTheFlexSP(t *testing.T) {
	data := filepath.Join(t.TempDir(), "dev.db")
	first := startDev(t, data, "--acs", flexACS)
	if strings.Contains(first.output, "replaced") {
		t.Fatalf("first start reports a replacement:\n%s", first.output)
	}
	first.stop()
	same := startDev(t, data, "--acs", flexACS)
	if strings.Contains(same.output, "replaced") {
		t.Fatalf("the same --acs reports a replacement:\n%s", same.output)
	}
	same.stop()
	otherConn := "JQffffffffffffffffffffffffffffffff"
	other := startDev(t, data, "--acs", strings.Replace(flexACS, flexConn, otherConn, 1))
	for _, s := range []string{"replaced the Flex service provider", "was: urn:flex:" + flexConn, "now: urn:flex:" + otherConn, "--name flex2"} {
		if !strings.Contains(other.output, s) {
			t.Errorf("idp dev does not say %q:\n%s", s, other.output)
		}
	}
}

// TestImportMessages: counts read as English, and a re-import that changes
// nothing shows no progress bar of writes that do not happen.
func TestImportMessages(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	allBad := write("bad.csv", "email,roles\nnot-an-email,agent\n")
	oneGood := write("one.csv", "email,roles\nada@example.com,agent\nnot-an-email,agent\n")
	two := write("two.csv", "email,roles\nada@example.com,agent\nbob@example.com,agent\n")
	e, _ := sqliteEnv(t)

	cases := []struct {
		name      string
		code      int
		args      []string
		says, not []string
	}{
		{"all rows invalid", 1, []string{allBad}, []string{"read 1 user from", "1 of 1 row has problems", "none is valid"}, []string{"0 valid rows", "--skip-invalid"}},
		{"one valid row", 1, []string{oneGood}, []string{"1 of 2 rows has problems", "import the 1 valid row"}, []string{"valid rows"}},
		{"skip invalid", 0, []string{oneGood, "--skip-invalid"}, []string{"skipping 1 invalid row (", "imported 1 user: 1 created"}, []string{"invalid rows", "1 users"}},
		{"import two", 0, []string{two}, []string{"imported 2 users: 1 created, 0 updated, 1 unchanged", "writing: 2 of 2 users"}, nil},
		{"re-import", 0, []string{two}, []string{"nothing to change: all 2 users are already up to date"}, []string{"writing"}},
	}
	for _, c := range cases {
		out := e.cliWant(c.code, "", append([]string{"users", "import"}, c.args...)...)
		for _, s := range c.says {
			if !strings.Contains(out, s) {
				t.Errorf("%s: output does not say %q:\n%s", c.name, s, out)
			}
		}
		for _, s := range c.not {
			if strings.Contains(out, s) {
				t.Errorf("%s: output says %q:\n%s", c.name, s, out)
			}
		}
	}
}

// TestRefusalLogs: a refused unregistered ACS URL is logged as a routine
// refusal (INFO) that names the URL, and request durations are in ms.
func TestRefusalLogs(t *testing.T) {
	e, _ := sqliteEnv(t)
	e.cli("", "sp", "add-flex", "--acs", flexACS)
	p := e.launchServe()
	e.waitReady(p)
	sp := samltest.FlexSP(t, p.base)
	evil := "https://evil.example.com/acs/" + strings.Repeat("x", 300)
	u, _ := samltest.AuthnRedirect(t, sp, "", func(r *crewjam.AuthnRequest) { r.AssertionConsumerServiceURL = evil })
	if status, _ := samltest.NewBrowser(t).Get(u); status != http.StatusBadRequest {
		t.Fatalf("unregistered ACS: status %d", status)
	}
	var refused, access map[string]any
	for _, line := range strings.Split(p.logs(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		switch {
		case m["msg"] == "request refused":
			refused = m
		case m["msg"] == "http request" && m["path"] == "/saml/sso":
			access = m
		case m["level"] == "ERROR":
			t.Errorf("a refusal logged an ERROR: %s", line)
		}
	}
	if refused == nil || access == nil {
		t.Fatalf("no refusal or access line logged:\n%s", p.logs())
	}
	detail, _ := refused["refused"].(string)
	if refused["level"] != "INFO" || !strings.Contains(detail, "https://evil.example.com/acs/xxx") || !strings.Contains(detail, "…") {
		t.Errorf("the refusal does not name the (shortened) ACS URL at INFO: %v", refused)
	}
	if strings.Contains(detail, strings.Repeat("x", 250)) {
		t.Errorf("the logged ACS URL is not shortened: %v", refused)
	}
	if _, ok := access["duration"]; ok {
		t.Errorf("the access line logs raw nanoseconds: %v", access)
	}
	if ms, ok := access["duration_ms"].(float64); !ok || ms <= 0 || ms > 60_000 {
		t.Errorf("duration_ms = %v, want milliseconds", access["duration_ms"])
	}
}
