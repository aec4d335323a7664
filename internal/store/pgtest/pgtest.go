// Package pgtest gives tests a fresh, empty PostgreSQL database.
//
// A package whose tests call URL must run them through Main:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// When IDP_TEST_DATABASE_URL is set (a URL such as
// postgres://user:pass@host:5432/postgres), URL creates a uniquely named
// database on that server for each call and drops it when the test ends; the
// role needs CREATEDB. Otherwise the first call starts one throwaway cluster
// for the whole test process from the PostgreSQL binaries in PATH or in the
// newest /usr/lib/postgresql/*/bin, and Main stops it and removes its files
// when the tests are done. Without binaries the test is skipped, except under
// CI=true, where PostgreSQL is required and the test fails.
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable that points the tests at an
// existing PostgreSQL server instead of a throwaway cluster.
const EnvURL = "IDP_TEST_DATABASE_URL"

var (
	mainCalled atomic.Bool
	dbSeq      atomic.Int64

	once       sync.Once
	adminURL   string // connection URL of the server's maintenance database
	serverErr  error  // the server could not be used
	skipReason string // no binaries, outside CI: skip
	local      *cluster
)

// Main runs the tests of a package that uses URL, then stops the throwaway
// cluster, if one was started, and exits with the tests' status.
func Main(m *testing.M) {
	mainCalled.Store(true)
	code := m.Run()
	if local != nil {
		if err := local.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}
	os.Exit(code)
}

// URL returns a connection URL to a new, empty database that exists for the
// duration of t. See the package documentation for where the server comes
// from.
func URL(t testing.TB) string {
	t.Helper()
	if !mainCalled.Load() {
		t.Fatal("pgtest: the package must run its tests through pgtest.Main: func TestMain(m *testing.M) { pgtest.Main(m) }")
	}
	once.Do(func() { setup(t) })
	switch {
	case skipReason != "":
		t.Skip(skipReason)
	case serverErr != nil:
		t.Fatalf("pgtest: %v", serverErr)
	}

	name := fmt.Sprintf("flexidp_test_%d_%d_%s", os.Getpid(), dbSeq.Add(1), randomHex(4))
	if err := admin(t.Context(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		// t.Context is already canceled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := admin(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database: %v", err)
		}
	})
	u, err := withDatabase(adminURL, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return u
}

// setup finds or starts the server; it runs once per process.
func setup(t testing.TB) {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		adminURL = u
		where := "the server"
		if p, err := url.Parse(u); err == nil && p.Host != "" {
			where = p.Redacted()
		}
		t.Logf("pgtest: using %s (from %s), one new database per test", where, EnvURL)
		return
	}
	bin, err := findBinaries()
	if err != nil {
		skipReason, serverErr = noServer(err, os.Getenv("CI") == "true")
		return
	}
	local, err = startCluster(bin)
	if err != nil {
		serverErr = err
		return
	}
	adminURL = local.url
	t.Logf("pgtest: started PostgreSQL from %s in %s at %s (log: %s)", bin, local.dir, local.addr, local.logPath())
}

func admin(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase points a connection string at another database. Both URLs and
// keyword/value strings are accepted.
func withDatabase(conn, name string) (string, error) {
	if !strings.Contains(conn, "://") {
		return conn + " dbname=" + name, nil // the last setting wins
	}
	u, err := url.Parse(conn)
	if err != nil {
		return "", errors.New("cannot parse the server URL") // the error would show the password
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// noServer decides what tests do without PostgreSQL binaries: skip, or
// fail under CI.
func noServer(err error, ci bool) (skip string, fail error) {
	if ci {
		return "", fmt.Errorf("PostgreSQL is required under CI: %v (install it, or set %s)", err, EnvURL)
	}
	return fmt.Sprintf("pgtest: skipping, %v; install PostgreSQL or set %s to run these tests", err, EnvURL), nil
}

// binGlob is where PostgreSQL binaries are looked for after PATH (Debian
// and Ubuntu packages).
var binGlob = "/usr/lib/postgresql/*/bin"

// findBinaries returns the directory holding initdb and postgres: PATH
// first, then the newest /usr/lib/postgresql/*/bin.
func findBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real // /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob(binGlob)
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, dir := range dirs {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", errors.New("no PostgreSQL binaries (initdb, postgres) in PATH or /usr/lib/postgresql/*/bin")
}

// version extracts N from /usr/lib/postgresql/N/bin.
func version(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// cluster is a running throwaway PostgreSQL server.
type cluster struct {
	dir  string // temporary directory: data/, the socket, the log
	addr string // 127.0.0.1:port
	url  string
	cmd  *exec.Cmd
	done chan struct{} // closed when postgres has exited
}

func (c *cluster) logPath() string { return filepath.Join(c.dir, "postgres.log") }

// tempPrefix names the clusters' temporary directories; each holds an
// owner.pid file with the pid of the test process that made it.
const tempPrefix = "flexidp-pgtest-"

// startCluster initialises and starts a cluster; settings are extra
// name=value server settings.
func startCluster(bin string, settings ...string) (c *cluster, err error) {
	sweepStale()
	dir, err := os.MkdirTemp("", tempPrefix)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	cred, err := credential(dir)
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"),
		"-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Env = env()
	initdb.Dir = dir // the working directory may be closed to the postgres user
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb in %s: %v\n%s", data, err, out)
	}

	// Another process may take the free port before postgres binds it.
	for attempt := 1; ; attempt++ {
		c, err = startServer(bin, dir, cred, settings)
		if err == nil || attempt == 3 {
			return c, err
		}
	}
}

func startServer(bin, dir string, cred *syscall.Credential, settings []string) (*cluster, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child has its own descriptor
	c := &cluster{
		dir:  dir,
		addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		done: make(chan struct{}),
	}
	c.url = "postgres://postgres@" + c.addr + "/postgres?sslmode=disable"
	args := []string{
		"-D", filepath.Join(dir, "data"),
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + dir,
		"-c", "fsync=off",
		"-c", "full_page_writes=off",
		"-c", "synchronous_commit=off",
		"-c", "max_connections=200",
	}
	for _, kv := range settings {
		args = append(args, "-c", kv)
	}
	c.cmd = exec.Command(filepath.Join(bin, "postgres"), args...)
	c.cmd.Stdout, c.cmd.Stderr = log, log
	c.cmd.Env = env()
	c.cmd.Dir = dir
	c.cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		// Immediate shutdown if the test binary dies without running Main's
		// cleanup (a panic or a -timeout).
		Pdeathsig: syscall.SIGQUIT,
		Setpgid:   true, // keep ^C in the terminal from reaching postgres first
	}

	// Pdeathsig fires when the thread that started the child exits, so
	// start and wait for it on one locked thread that lives as long as the
	// server does.
	started := make(chan error)
	go func() {
		runtime.LockOSThread()
		if err := c.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = c.cmd.Wait()
		close(c.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	if err := c.waitReady(30 * time.Second); err != nil {
		c.shutdown()
		return nil, err
	}
	return c, nil
}

func (c *cluster) waitReady(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, c.url)
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("postgres exited during start-up:\n%s", tail(c.logPath()))
		case <-ctx.Done():
			return fmt.Errorf("postgres did not accept connections on %s within %v: %v\n%s", c.addr, timeout, err, tail(c.logPath()))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop shuts the server down and removes its files.
func (c *cluster) stop() error {
	defer os.RemoveAll(c.dir)
	if !c.shutdown() {
		return fmt.Errorf("postgres in %s did not shut down within 30s; killed", c.dir)
	}
	return nil
}

// shutdown stops postgres in fast mode, killing it if that takes more than
// 30s; it reports whether fast mode sufficed.
func (c *cluster) shutdown() bool {
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
		return true
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
		return false
	}
}

// sweepStale removes the directories of clusters whose test process died
// without running Main's cleanup (a panic, a -timeout); postgres itself
// stopped then, on its parent-death signal.
func sweepStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(string(b))
		if err == nil && pid > 0 && errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			os.RemoveAll(dir)
		}
	}
}

// credential returns who runs initdb and postgres. PostgreSQL refuses to
// run as root, so as root it is the postgres user (else nobody), and dir is
// handed over to it.
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var u *user.User
	var err error
	for _, name := range []string{"postgres", "nobody"} {
		if u, err = user.Lookup(name); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("running as root and no postgres or nobody user to run PostgreSQL as: %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	if err := os.Chown(dir, int(uid), int(gid)); err != nil {
		return nil, err
	}
	// The user must reach dir through its parents.
	for p := filepath.Dir(dir); p != filepath.Dir(p); p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return nil, fmt.Errorf("%s is not traversable by user %s; point TMPDIR elsewhere", p, u.Username)
		}
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// env is the environment of the PostgreSQL processes: enough to run, and
// nothing (PGDATA, PGPORT, ...) that would change what they do.
func env() []string {
	return []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(bytes.TrimSpace(b))
}
