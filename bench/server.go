package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/flexidp/flexidp/bench/internal/idpserve"
	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/pgtest"
	"github.com/flexidp/flexidp/internal/store/postgres"
	"github.com/flexidp/flexidp/internal/store/sqlite"
	"github.com/flexidp/flexidp/internal/users"
)

// Seeded data.
const (
	flexACS      = "https://login.flex.us1.twilio.com/login/callback?connection=JQ0123456789abcdef0123456789abcdef"
	benchPass    = "correct horse battery staple"
	emailPattern = "agent%d@bench.flexidp.test"
)

// environment is what the phases run against: a seeded database and a
// running server.
type environment struct {
	backend string // "PostgreSQL" or "SQLite"
	dir     string
	dbWhere string
	dbURL   string
	users   int
	base    string
	srv     *serverProc
	cluster *pgtest.Cluster
	probe   *dbProbe
	// probeNote says what the database probe could not read.
	probeNote string
	// idleRSSKiB is the server's resident memory once it is ready, before
	// any sign-in.
	idleRSSKiB int64
	// keepLog leaves the server log in place (the run failed).
	keepLog bool
	// sharedAccount: every agent signs in as agent0@….
	sharedAccount bool
}

func (e *environment) close() {
	if e.srv != nil {
		_ = e.srv.stop()
	}
	if e.probe != nil {
		e.probe.close()
	}
	if e.cluster != nil {
		if err := e.cluster.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		}
	}
	if e.keepLog && e.srv != nil {
		_ = os.Remove(filepath.Join(e.dir, "idp"))
		fmt.Fprintf(os.Stderr, "bench: server log kept in %s\n", e.srv.logPath)
		return
	}
	_ = os.RemoveAll(e.dir)
}

// target is the environment's server as the load sees it.
func (e *environment) target() *target {
	t := &target{name: "flexidp " + e.backend, base: e.base, metadata: e.base + "/saml/metadata", pid: e.srv.cmd.Process.Pid,
		memStats: promMemStats("http://" + e.srv.metricsAddr + "/metrics"), sharedAccount: e.sharedAccount,
		login: func(l *load, a *agent, body string) (int, string, error) {
			f := hiddenFields(body)
			return a.post(l.ctx, l.t.base+"/login", url.Values{"csrf": {f["csrf"]}, "state": {f["state"]},
				"email": {a.email}, "password": {benchPass}})
		}}
	if e.probe != nil {
		t.db = e.probe
	}
	return t
}

// Backends the benchmark runs flexidp on.
const (
	backendPostgres = "PostgreSQL"
	backendSQLite   = "SQLite"
)

// startEnvironment seeds a database of the backend and starts idp serve
// (bin) on it.
func startEnvironment(ctx context.Context, o options, cpu cpuPlan, backend, bin string, nUsers int) (_ *environment, err error) {
	dir, err := os.MkdirTemp("", "flexidp-bench-")
	if err != nil {
		return nil, err
	}
	e := &environment{backend: backend, dir: dir, users: nUsers, sharedAccount: o.sharedAccount}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	var st seedStore
	switch backend {
	case backendSQLite:
		path := filepath.Join(dir, "flexidp.db")
		e.dbURL, e.dbWhere = "sqlite://"+path, path
		sq, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, err
		}
		st = sq
	default:
		e.dbURL = o.databaseURL
		dataDir := ""
		if e.dbURL == "" {
			if e.cluster, err = pgtest.StartCluster(); err != nil {
				return nil, fmt.Errorf("start PostgreSQL (or pass --database-url): %w", err)
			}
			e.dbURL = e.cluster.URL()
			e.dbWhere = "throwaway cluster in " + e.cluster.Dir()
			dataDir = filepath.Join(e.cluster.Dir(), "data")
		} else {
			e.dbWhere = "--database-url"
			if u, err := url.Parse(e.dbURL); err == nil && u.Host != "" {
				e.dbWhere = u.Redacted()
			}
		}
		pg, err := postgres.Open(ctx, e.dbURL)
		if err != nil {
			return nil, err
		}
		st = pg
		if e.probe, e.probeNote, err = newDBProbe(ctx, e.dbURL, dataDir); err != nil {
			st.Close()
			return nil, fmt.Errorf("database probe: %w", err)
		}
	}
	err = seed(ctx, st, nUsers)
	st.Close()
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	e.srv, err = startServer(ctx, bin, dir, e.dbURL, o, cpu, backend == o.backends[0])
	if err != nil {
		return nil, err
	}
	e.base = e.srv.base
	return e, nil
}

// buildIdP builds ./cmd/idp into dir, unless --idp names a binary.
func buildIdP(ctx context.Context, o options, dir string) (string, error) {
	if o.idpBinary != "" {
		return o.idpBinary, nil
	}
	bin := filepath.Join(dir, "idp")
	return bin, idpserve.Build(ctx, bin)
}

// seedStore is what seeding needs of either backend.
type seedStore interface {
	store.Store
	Migrate(ctx context.Context) ([]string, error)
}

// seed migrates the database and stores the Flex SP and nUsers agents
// (agent0@…, agent1@…), all with the same password. The hash is computed
// once; each sign-in still verifies it at full cost.
func seed(ctx context.Context, st seedStore, nUsers int) error {
	if _, err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	entityID, _, err := sp.FlexPreset(flexACS)
	if err != nil {
		return err
	}
	flex := sp.ServiceProvider{Name: "flex", EntityID: entityID, ACSURLs: []string{flexACS}}
	if err := flex.Validate(); err != nil {
		return err
	}
	if err := st.CreateServiceProvider(ctx, flex); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	hash, err := users.NewHasher(users.DefaultParams, 1).Hash(ctx, benchPass)
	if err != nil {
		return err
	}
	for n := range nUsers {
		u := users.User{ID: randomID(), Email: fmt.Sprintf(emailPattern, n), FullName: fmt.Sprintf("Agent %d", n),
			Roles: []string{"agent"}, Team: "Bench", PasswordHash: hash}
		if err := u.Validate(); err != nil {
			return err
		}
		if err := st.CreateUser(ctx, u); err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return nil
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// serverProc is `idp serve` running as a child process.
type serverProc struct {
	base            string
	metricsAddr     string
	logPath         string
	hashConcurrency int
	cmd             *exec.Cmd
	done            chan struct{}
	err             error
}

// startServer runs `idp serve` on a free loopback port, pinned to the
// server CPUs with GOMAXPROCS to match, and waits until it is ready.
func startServer(ctx context.Context, bin, dir, dbURL string, o options, cpu cpuPlan, mayProfile bool) (*serverProc, error) {
	addr, err := idpserve.FreeAddr()
	if err != nil {
		return nil, err
	}
	// /metrics gives the server's allocation counters. IDP_METRICS_LISTEN
	// (with IDP_PPROF=true, for profiling) is taken for the first
	// backend's server when set.
	metricsAddr := os.Getenv("IDP_METRICS_LISTEN")
	if metricsAddr == "" || !mayProfile {
		if metricsAddr, err = idpserve.FreeAddr(); err != nil {
			return nil, err
		}
	}
	s := &serverProc{base: "http://" + addr, metricsAddr: metricsAddr, logPath: filepath.Join(dir, "idp.log"), done: make(chan struct{})}
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	s.cmd = exec.Command(bin, "serve")
	s.cmd.Env = idpserve.Env(idpserve.Config{Addr: addr, MetricsAddr: metricsAddr, DatabaseURL: dbURL,
		CPUs: o.cpus, HashMemoryMiB: o.hashMemoryMiB})
	if o.lockoutThreshold > 0 {
		s.cmd.Env = append(s.cmd.Env, "IDP_LOCKOUT_THRESHOLD="+strconv.Itoa(o.lockoutThreshold))
	}
	// Profiling the server under load: IDP_METRICS_LISTEN=127.0.0.1:6060
	// IDP_PPROF=true go run ./bench, then go tool pprof …/debug/pprof/profile;
	// IDP_SIGNIN_TIME_FLOOR=0 compares without the sign-in time floor.
	for _, k := range []string{"IDP_PPROF", "IDP_SIGNIN_TIME_FLOOR"} {
		if v := os.Getenv(k); v != "" {
			s.cmd.Env = append(s.cmd.Env, k+"="+v)
		}
	}
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// The server dies with the benchmark (SIGTERM drains it otherwise).
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}

	// Start it from a thread pinned to the server CPUs, which the child
	// inherits; Pdeathsig follows that thread, so it stays locked for the
	// server's life.
	started := make(chan error)
	go func() {
		runtime.LockOSThread()
		err := cpu.onServerCPUs(s.cmd.Start)
		started <- err
		if err != nil {
			return
		}
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start idp serve: %w", err)
	}
	if err := s.waitReady(ctx, 60*time.Second); err != nil {
		_ = s.stop()
		return nil, err
	}
	s.hashConcurrency = readHashConcurrency(s.logPath)
	return s, nil
}

func (s *serverProc) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("idp serve exited during start-up (%v); log %s:\n%s", s.err, s.logPath, tail(s.logPath))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("idp serve not ready within %s; log %s", timeout, s.logPath)
		}
	}
}

// idleAfterHashes is how long after its last hash idp serve has
// returned the hashes' memory to the system (its memory returner checks
// every 5 s).
const idleAfterHashes = 6 * time.Second

// waitIdle waits until the server has measured its sign-in time floor
// (in the background after start, hashes of up to 64 MiB; with
// IDP_SIGNIN_TIME_FLOOR set there is none) and returned their memory, so
// that its RSS is the idle server's rather than a snapshot of the
// calibration.
func (s *serverProc) waitIdle(ctx context.Context) error {
	if v := os.Getenv("IDP_SIGNIN_TIME_FLOOR"); v == "" || v == "auto" {
		deadline := time.Now().Add(2 * time.Minute)
		for {
			b, _ := os.ReadFile(s.logPath)
			if bytes.Contains(b, []byte("sign-in time floor")) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("idp serve did not measure its sign-in time floor within 2 minutes; log %s", s.logPath)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(idleAfterHashes):
		return nil
	}
}

// stop sends SIGTERM (a clean drain) and waits.
func (s *serverProc) stop() error {
	select {
	case <-s.done:
		return s.err
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return s.err
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		return errors.New("idp serve did not stop within 30s of SIGTERM; killed")
	}
}

// readHashConcurrency finds the hash_concurrency the server logged at
// start-up; 0 if absent.
func readHashConcurrency(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Msg string `json:"msg"`
			N   int    `json:"hash_concurrency"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.N > 0 {
			return line.N
		}
	}
	return 0
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}
