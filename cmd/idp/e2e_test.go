package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	flexConn = samltest.FlexConn
	flexACS  = samltest.FlexACS
	password = "correct horse battery"
)

// testEnv runs the idp command in-process with captured output.
type testEnv struct {
	t      *testing.T
	dbURL  string
	getenv map[string]string
}

func (e *testEnv) env(stdin string) (*environment, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &environment{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb,
		getenv: func(k string) string { return e.getenv[k] }}, &out, &errb
}

// cli runs an idp command against the test database and fails the test
// unless it exits with want.
func (e *testEnv) cliWant(want int, stdin string, args ...string) string {
	e.t.Helper()
	env, out, errb := e.env(stdin)
	if code := run(context.Background(), env, args); code != want {
		e.t.Fatalf("idp %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errb)
	}
	return out.String() + errb.String()
}

func (e *testEnv) cli(stdin string, args ...string) string {
	e.t.Helper()
	return e.cliWant(0, stdin, args...)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serveProc is an `idp serve` running in-process.
type serveProc struct {
	base string // http://ADDR it listens on
	mu   *sync.Mutex
	logb *bytes.Buffer
	done chan int
	// stop cancels the server's context, as SIGTERM does.
	stop context.CancelFunc
}

// logs returns what the server has logged so far.
func (p *serveProc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logb.String()
}

// startServe runs `idp serve` on loopback and returns its base URL once it
// is ready; the server is stopped (SIGTERM path: context cancelled) when
// the test ends.
func (e *testEnv) startServe(extra ...string) string {
	e.t.Helper()
	p := e.launchServe(extra...)
	e.waitReady(p)
	return p.base
}

// launchServe starts `idp serve` without waiting for it, so that several
// can start at the same moment. Flags in extra override the defaults.
func (e *testEnv) launchServe(extra ...string) *serveProc {
	e.t.Helper()
	addr := freeAddr(e.t)
	p := &serveProc{base: "http://" + addr, mu: new(sync.Mutex), logb: new(bytes.Buffer), done: make(chan int, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	env, _, _ := e.env("")
	env.stderr = lockedWriter{p.mu, p.logb}
	args := append([]string{"serve", "--listen", addr, "--base-url", p.base, "--log-format", "json", "--hash-memory", "64",
		// Sign-in time padding is tested in internal/users; here it would
		// only slow every sign-in down.
		"--signin-time-floor", "0"}, extra...)
	go func() { p.done <- run(ctx, env, args) }()
	e.t.Cleanup(func() {
		cancel()
		select {
		case code := <-p.done:
			if code != 0 {
				e.t.Errorf("idp serve exited %d: %s", code, p.logs())
			}
		case <-time.After(30 * time.Second):
			e.t.Error("idp serve did not shut down")
		}
	})
	return p
}

// waitReady waits until p answers /readyz with 200.
func (e *testEnv) waitReady(p *serveProc) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case code := <-p.done:
			p.done <- code // for the cleanup
			e.t.Fatalf("idp serve exited %d: %s", code, p.logs())
		default:
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("idp serve did not become ready: %s", p.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func getBody(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

// setupFlex registers the Flex SP and the test users through the CLI, as
// an administrator would.
func setupFlex(t *testing.T, e *testEnv) {
	t.Helper()
	e.cli("", "sp", "add-flex", "--acs", flexACS, "--default-redirect-url", "https://flex.twilio.com/dancing-owl-1234")
	e.cli(password+"\n", "users", "add", "--email", "Sam.Supervisor@Example.com", "--name", "Sam Supervisor",
		"--roles", "supervisor,agent", "--team", "Sales", "--program", "Retail")
	e.cli(password+"\n", "users", "add", "--email", "agent@example.com", "--given-name", "Alex", "--family-name", "Agent",
		"--roles", "agent", "--image-url", "https://example.com/alex.png")
	e.cli(password+"\n", "users", "add", "--email", "norole@example.com")
	e.cli(password+"\n", "users", "add", "--email", "gone@example.com", "--roles", "agent")
	e.cli("", "users", "disable", "--email", "gone@example.com")
}

func newTestEnv(t *testing.T) *testEnv {
	db := pgtest.URL(t)
	return &testEnv{t: t, dbURL: db, getenv: map[string]string{"IDP_DATABASE_URL": db}}
}
