package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/samltest"
)

// devRun is one `idp dev` process, run in-process as a developer would.
type devRun struct {
	base, output string
	stop         func()
}

func startDev(t *testing.T, data string, extra ...string) devRun {
	t.Helper()
	return startDevEnv(t, func(string) string { return "" }, data, extra...)
}

// startDevEnv is startDev with the environment variables of getenv.
func startDevEnv(t *testing.T, getenv func(string) string, data string, extra ...string) devRun {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var out bytes.Buffer
	env := &environment{stdin: strings.NewReader(""), stdout: lockedWriter{&mu, &out}, stderr: lockedWriter{&mu, &out},
		getenv: getenv}
	done := make(chan int, 1)
	args := append([]string{"dev", "--data", data, "--listen", addr, "--log-format", "text", "--hash-memory", "64", "--signin-time-floor", "0"}, extra...)
	go func() { done <- run(ctx, env, args) }()
	base := "http://" + devHostPort(addr) // what idp dev prints and uses as its base URL
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case code := <-done:
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("idp dev exited %d:\n%s", code, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("idp dev did not become ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("idp dev exited %d", code)
		}
	}
	t.Cleanup(stop)
	mu.Lock()
	defer mu.Unlock()
	return devRun{base: base, output: out.String(), stop: stop}
}

var devPasswordRE = regexp.MustCompile(`Demo users \(password "([^"]+)"\)`)

// TestDevEndToEnd starts the IdP the way `idp dev` does (embedded SQLite,
// demo users, the Flex SP from --acs) and signs a demo user in.
func TestDevEndToEnd(t *testing.T) {
	data := filepath.Join(t.TempDir(), "flexidp", "dev.db")
	dev := startDev(t, data, "--acs", flexACS)
	m := devPasswordRE.FindStringSubmatch(dev.output)
	if m == nil {
		t.Fatalf("idp dev did not print the demo password:\n%s", dev.output)
	}
	pw := m[1]
	for _, s := range []string{"Identity Provider Issuer:  " + dev.base + "/saml/metadata", "Single Sign-On URL:        " + dev.base + "/saml/sso",
		"BEGIN CERTIFICATE", "urn:flex:" + flexConn, "Trusted domain", "localhost", "team-agent@example.com"} {
		if !strings.Contains(dev.output, s) {
			t.Fatalf("idp dev output lacks %q:\n%s", s, dev.output)
		}
	}
	cert := getBody(t, dev.base+"/saml/certificate.pem")

	sp := samltest.FlexSP(t, dev.base)
	b := samltest.NewBrowser(t)
	page, reqID := b.StartSignIn(sp)
	samltest.MustContain(t, page, "Development IdP")
	status, body := b.Login(dev.base, page, "team-agent@example.com", pw)
	if status != http.StatusOK {
		t.Fatalf("login: %d\n%s", status, body)
	}
	form := samltest.Form(t, body)
	assertion := samltest.Accepts(t, sp, form, reqID)
	attrs := samltest.Values(assertion)
	if attrs["channel.chat.capacity"][0] != "3" || attrs["team"][0] != "Sales" || attrs["roles"][0] != "agent" {
		t.Fatalf("demo user attributes = %v", attrs)
	}
	samltest.VerifyWithXmlsec(t, form.XML, cert)

	// Restarting keeps the data: same password, same signing key.
	dev.stop()
	dev2 := startDev(t, data)
	if m2 := devPasswordRE.FindStringSubmatch(dev2.output); m2 == nil || m2[1] != pw {
		t.Fatalf("restart changed the demo password:\n%s", dev2.output)
	}
	if !bytes.Equal(getBody(t, dev2.base+"/saml/certificate.pem"), cert) {
		t.Fatal("restart changed the signing certificate")
	}
	if !strings.Contains(dev2.output, "urn:flex:"+flexConn) {
		t.Fatal("restart lost the Flex SP")
	}
	dev2.stop()

	// --reset starts clean.
	dev3 := startDev(t, data, "--reset")
	if bytes.Equal(getBody(t, dev3.base+"/saml/certificate.pem"), cert) {
		t.Fatal("--reset kept the old signing key")
	}
	if strings.Contains(dev3.output, "urn:flex:"+flexConn) {
		t.Fatal("--reset kept the old SP")
	}
}

// TestDevPasswordMeetsThePolicy: the demo users are created by the account
// service, so their password meets the policy in force, here a minimum
// longer than the usual demo password.
func TestDevPasswordMeetsThePolicy(t *testing.T) {
	data := filepath.Join(t.TempDir(), "dev.db")
	dev := startDevEnv(t, func(k string) string {
		if k == "IDP_PASSWORD_MIN_LENGTH" {
			return "24"
		}
		return ""
	}, data)
	m := devPasswordRE.FindStringSubmatch(dev.output)
	if m == nil {
		t.Fatalf("idp dev did not print the demo password:\n%s", dev.output)
	}
	if len(m[1]) < 24 {
		t.Fatalf("demo password %q has %d characters; the policy asks for 24", m[1], len(m[1]))
	}
	dev.stop()
	// A restart keeps it.
	if again := devPasswordRE.FindStringSubmatch(startDev(t, data).output); again == nil || again[1] != m[1] {
		t.Fatalf("restart changed the demo password")
	}
}

// TestDevAdminIsConsoleOwner: idp dev's demo admin is an admin console
// owner (granted through the service, so it is in the audit trail); the
// other demo users have no console access.
func TestDevAdminIsConsoleOwner(t *testing.T) {
	data := filepath.Join(t.TempDir(), "dev.db")
	dev := startDev(t, data)
	if !strings.Contains(dev.output, "admin console owner") {
		t.Errorf("the banner does not say the demo admin is a console owner:\n%s", dev.output)
	}
	dev.stop()
	e := &testEnv{t: t, getenv: map[string]string{}}
	for email, want := range map[string]string{"admin@example.com": "owner", "agent@example.com": "none"} {
		if out := e.cli("", "users", "show", "--data", data, "--email", email); !strings.Contains(out, "console_role:  "+want) {
			t.Errorf("%s: want console role %s:\n%s", email, want, out)
		}
	}
	if out := e.cli("", "audit", "search", "--data", data, "--action", "admin.user.grant"); !strings.Contains(out, "admin@example.com") {
		t.Errorf("the grant is not in the audit trail:\n%s", out)
	}
}
