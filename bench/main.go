// Command bench is flexidp's load benchmark (docs/performance.md).
//
//	go run ./bench [--cpus 1] [--agents 50] [--duration 20s] [--burst 2000 --burst-window 1m] [--shared-account]
//	               [--peer=false] [--backends postgres,sqlite] [--cold-build=false]
//
// It first times a cold `go build ./cmd/idp` (empty GOCACHE). Then, one
// after the other on the same pinned CPUs: crewjam's samlidp (the peer,
// configured as Flex needs), and `idp serve` built from ./cmd/idp on
// PostgreSQL (a throwaway cluster, or --database-url) and on SQLite, each
// with seeded users and a Flex service provider, pinned to --cpus CPUs
// with GOMAXPROCS set to match. Virtual agents drive the SP-initiated flow
// with crewjam's SP playing Flex:
// AuthnRequest -> GET /saml/sso -> login form -> POST /login -> signed
// Response, parsed and verified with crewjam's ParseXMLResponse. Phases:
//
//   - password: every sign-in starts without a session and types the password;
//   - sso: agents with a session send a new AuthnRequest and get a Response;
//   - burst: --burst agents arrive evenly over --burst-window and sign in once
//     (PostgreSQL only).
//
// Beside rates per wall-clock and per server CPU-second it reports, per
// operation, the server's allocations (runtime.MemStats), PostgreSQL's
// statements and commits (pg_stat_statements, transaction IDs) and its
// CPU time (/proc of its processes), and the server's idle and post-burst
// resident memory.
//
// The agents and PostgreSQL run on the other CPUs, so their work (building
// requests, verifying Responses) does not take the server's core. The raw
// RSA-2048 signing rate and argon2id hashing rate are measured first on the
// server's CPU, and every result is shown as a fraction of its bound.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/flexidp/flexidp/bench/internal/idpserve"
)

// options are the benchmark's flags.
type options struct {
	cpus          int
	agents        int
	duration      time.Duration
	burst         int
	burstWindow   time.Duration
	burstRetries  int
	databaseURL   string
	idpBinary     string
	hashMemoryMiB int
	boundsTime    time.Duration
	// sharedAccount: every agent signs in as one user.
	sharedAccount bool
	// lockoutThreshold is the server's IDP_LOCKOUT_THRESHOLD; 0 leaves its default.
	lockoutThreshold int
	// peer runs crewjam's samlidp too; backends are flexidp's stores.
	peer     bool
	backends []string
	// settle is how long after the burst the server's RSS is read again.
	settle time.Duration
	// coldBuild measures go build ./cmd/idp with an empty GOCACHE first.
	coldBuild bool
}

func main() {
	peerMain() // when started as the peer, it runs and exits here
	var o options
	var backends string
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	fs.IntVar(&o.cpus, "cpus", 1, "CPUs given to the server (GOMAXPROCS and CPU affinity); the agents and PostgreSQL get the others")
	fs.IntVar(&o.agents, "agents", 50, "concurrent virtual agents in the password and sso phases")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "length of the password and sso phases")
	fs.IntVar(&o.burst, "burst", 2000, "sign-ins in the burst phase (0 skips it)")
	fs.DurationVar(&o.burstWindow, "burst-window", time.Minute, "the burst's sign-ins start evenly over this window")
	fs.IntVar(&o.burstRetries, "burst-retries", 6, "how many 503 'busy, try again in N s' answers a burst sign-in honours (waiting Retry-After) before it gives up (an error)")
	fs.StringVar(&o.databaseURL, "database-url", os.Getenv("IDP_DATABASE_URL"), "PostgreSQL to use (IDP_DATABASE_URL); default: a throwaway cluster")
	fs.StringVar(&o.idpBinary, "idp", "", "prebuilt idp binary; default: built as the Dockerfile ships it (CGO_ENABLED=0 -trimpath -ldflags=-s -w)")
	fs.IntVar(&o.hashMemoryMiB, "hash-memory", 256, "the server's IDP_HASH_MEMORY_MIB")
	fs.BoolVar(&o.sharedAccount, "shared-account", false, "every agent signs in as the same user (a shared login, one agent's many tabs); at most --lockout-threshold of its sign-ins are checked at once")
	fs.IntVar(&o.lockoutThreshold, "lockout-threshold", 0, "the server's IDP_LOCKOUT_THRESHOLD (default: the server's, 10)")
	fs.DurationVar(&o.boundsTime, "bounds-time", 3*time.Second, "how long each raw rate (RSA, argon2id) is measured")
	fs.BoolVar(&o.peer, "peer", true, "also run crewjam's samlidp (the peer) through the sso phase on the same CPUs")
	fs.StringVar(&backends, "backends", "postgres,sqlite", "flexidp's store backends to run, in order: postgres, sqlite")
	fs.DurationVar(&o.settle, "settle", 30*time.Second, "how long after the burst the server's RSS is read again (post-burst RSS)")
	fs.BoolVar(&o.coldBuild, "cold-build", true, "first time `go build ./cmd/idp` with an empty GOCACHE in a temporary directory (a newcomer's first run; takes minutes)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run ./bench [flags]\n\nflexidp load benchmark: see docs/performance.md.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	_ = fs.Parse(os.Args[1:])
	for b := range strings.SplitSeq(backends, ",") {
		switch strings.TrimSpace(b) {
		case "postgres":
			o.backends = append(o.backends, backendPostgres)
		case "sqlite":
			o.backends = append(o.backends, backendSQLite)
		case "":
		default:
			fmt.Fprintf(os.Stderr, "bench: --backends: %q is neither postgres nor sqlite\n", b)
			os.Exit(2)
		}
	}
	if fs.NArg() > 0 || o.cpus < 1 || o.agents < 1 || o.duration <= 0 || o.burst < 0 || o.burstRetries < 0 {
		fs.Usage()
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	failed, err := run(ctx, o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
	if failed {
		os.Exit(1)
	}
}

// run runs the benchmark and prints the report; failed is true when a
// phase had errors.
func run(ctx context.Context, o options) (failed bool, err error) {
	var cold *coldBuild
	if o.coldBuild {
		// Before pinning: a newcomer's build has every CPU of the machine.
		fmt.Printf("cold build: go build ./cmd/idp with an empty GOCACHE (this takes minutes)...\n")
		cold, err = measureColdBuild(ctx)
		if err != nil {
			return false, err
		}
		fmt.Printf("  %s\n", cold.describe())
	}
	cpu, err := planCPUs(o.cpus)
	if err != nil {
		return false, err
	}
	// From here on every thread of this process, and PostgreSQL started
	// below, runs on the agents' CPUs.
	if err := cpu.pinSelf(); err != nil {
		return false, err
	}
	m := describeMachine()
	fmt.Printf("flexidp load benchmark, %s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Printf("machine: %s, %d CPUs, %s %s/%s\n", m.model, m.cpus, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Printf("servers: idp serve and crewjam samlidp (their sso phases in alternating slices), GOMAXPROCS=%d, %s\n", o.cpus, cpu.describe())
	if o.idpBinary == "" {
		fmt.Printf("idp built as the Dockerfile ships it: CGO_ENABLED=0 go build %s\n", strings.Join(idpserve.ShippedBuild, " "))
	}

	fmt.Printf("\nmeasuring raw rates on the server's CPU (%s each)...\n", o.boundsTime)
	b, err := measureBounds(cpu, o.boundsTime)
	if err != nil {
		return false, err
	}
	b.scale(o.cpus)
	fmt.Printf("  RSA-2048 PKCS#1 v1.5 SHA-256 signatures: %8.1f /s per core -> SSO bound %7.1f responses/s (2 signatures each, %d core(s))\n",
		b.rsaPerCore, b.sso, o.cpus)
	fmt.Printf("  argon2id m=%d KiB t=%d p=%d verifications: %8.1f /s per core -> sign-in bound %7.1f /s (%d core(s))\n",
		b.params.Memory, b.params.Iterations, b.params.Parallelism, b.argonPerCore, b.signIn, o.cpus)

	fmt.Printf("checking the sso phases' yardstick, the RSA probe (%s)...\n", yardstickTime)
	y, err := b.checkYardstick(cpu, o.cpus, yardstickTime)
	if err != nil {
		return false, err
	}
	fmt.Printf("  %s\n", y.describe())

	work, err := os.MkdirTemp("", "flexidp-bench-bin-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(work)
	bin, err := buildIdP(ctx, o, work)
	if err != nil {
		return false, err
	}

	rep := &runReport{bounds: b, cold: cold, yardstick: y}
	var peer *load
	if o.peer {
		p, lg, err := startPeerLoad(ctx, o, cpu, work)
		if err != nil {
			return true, err
		}
		defer p.stop()
		peer = lg
	}
	for _, backend := range o.backends {
		if err := runFlexidp(ctx, o, cpu, b, bin, backend, peer, rep); err != nil {
			return true, err
		}
	}

	fmt.Println()
	failed = report(os.Stdout, rep, o)
	if failed {
		return true, errors.New("some operations failed; see above and the server log")
	}
	return false, nil
}

// startPeerLoad starts crewjam's samlidp and signs its agents in once;
// its sso phases run beside flexidp's (ssoDuel).
func startPeerLoad(ctx context.Context, o options, cpu cpuPlan, work string) (*peerProc, *load, error) {
	logPath := filepath.Join(work, "peer.log")
	p, err := startPeer(ctx, o, cpu, o.agents, logPath)
	if err != nil {
		return nil, nil, err
	}
	fmt.Printf("\ncrewjam samlidp (peer) at %s, in-memory store\n", p.base)
	lg, err := newLoad(ctx, peerTarget(p.base, p.cmd.Process.Pid))
	if err == nil {
		fmt.Printf("warm-up: each of %d agents signs in once...\n", o.agents)
		if r := lg.warmUp(o.agents); r.errors > 0 {
			err = fmt.Errorf("peer warm-up failed: %d errors, first: %v; log %s", r.errors, r.firstErr, logPath)
		}
	}
	if err != nil {
		p.stop()
		return nil, nil, err
	}
	return p, lg, nil
}

// duelSlices is how many slices of each server's sso phase ssoDuel
// alternates.
const duelSlices = 4

// ssoDuel runs the sso phase of flexidp (flex) and of the peer on the
// same CPU in alternating slices (peer, flexidp, flexidp, peer, peer, …,
// --duration in all for each), within one measureAround: a virtual
// machine's speed drifts within minutes, and so both servers are
// measured over the same minute, each half of it first, and compared with
// the same bound.
func ssoDuel(flex, peer *load, o options, cpu cpuPlan, b bounds) (fr, pr result, err error) {
	var fs, ps []result
	m, err := b.measureAround(cpu, o, "sso", func() error {
		fmt.Printf("sso phase: %d agents, %s, in %d slices alternating with crewjam samlidp's...\n", o.agents, o.duration, duelSlices)
		for i := range duelSlices {
			order := []*load{peer, flex}
			if i%2 == 1 {
				order = []*load{flex, peer}
			}
			for _, l := range order {
				r, err := l.ssoPhase(o, b, o.duration/duelSlices)
				if err != nil {
					return err
				}
				if l == flex {
					fs = append(fs, r)
				} else {
					ps = append(ps, r)
				}
			}
		}
		return nil
	})
	if err != nil {
		return fr, pr, err
	}
	fr, pr = m.apply(fs, 0.80), m.apply(ps, 0)
	pr.name = "sso (beside " + strings.TrimPrefix(fr.server, "flexidp ") + ")"
	fr.vsPeer = &pr
	return fr, pr, nil
}

// ssoPhase is the sso phase (or one slice of it) for d, its
// AuthnRequests built first (prepareSSO).
func (l *load) ssoPhase(o options, b bounds, d time.Duration) (result, error) {
	if err := l.prepareSSO(d, prepareRate(b, o)); err != nil {
		return result{}, err
	}
	return l.phase("sso", o.agents, d, l.sessionSSO), nil
}

// prepareRate is how many Responses a second an sso phase builds
// AuthnRequests for ahead: the SSO bound measured first, with room for a
// faster machine.
func prepareRate(b bounds, o options) float64 {
	return 1.5 * b.rsaPerCore / 2 * float64(o.cpus)
}

// measuredPhase runs a phase within one measureAround and compares it
// with that bound.
func measuredPhase(lg *load, o options, cpu cpuPlan, b bounds, name string, run func() (result, error), goal float64) (result, error) {
	var r result
	m, err := b.measureAround(cpu, o, name, func() error {
		fmt.Printf("%s phase: %d agents, %s...\n", name, o.agents, o.duration)
		var err error
		r, err = run()
		return err
	})
	if err != nil {
		return result{}, err
	}
	return m.apply([]result{r}, goal), nil
}

// runFlexidp runs idp serve on the backend through the warm-up, the
// password and sso phases and, on PostgreSQL, the burst.
func runFlexidp(ctx context.Context, o options, cpu cpuPlan, b bounds, bin, backend string, peer *load, rep *runReport) (err error) {
	env, err := startEnvironment(ctx, o, cpu, backend, bin, max(o.agents, o.burst))
	if err != nil {
		return err
	}
	defer func() {
		env.keepLog = env.keepLog || err != nil
		env.close()
	}()
	// Idle: started, migrated, key loaded, the sign-in time floor
	// measured and its hashes' memory returned, nothing served yet.
	if err := env.srv.waitIdle(ctx); err != nil {
		return err
	}
	env.idleRSSKiB = currentRSSKiB(env.srv.cmd.Process.Pid)
	fmt.Printf("\nflexidp on %s: %s; %d users and SP flex seeded; server %s, hash concurrency %d (%d MiB budget), log %s\n",
		backend, env.dbWhere, env.users, env.base, env.srv.hashConcurrency, o.hashMemoryMiB, env.srv.logPath)
	if env.probeNote != "" {
		fmt.Printf("  database probe: %s\n", env.probeNote)
	}
	if o.sharedAccount {
		fmt.Printf("every agent signs in as %s\n", fmt.Sprintf(emailPattern, 0))
	}
	lg, err := newLoad(ctx, env.target())
	if err != nil {
		return err
	}
	fmt.Printf("warm-up: each of %d agents signs in once...\n", o.agents)
	if r := lg.warmUp(o.agents); r.errors > 0 {
		return fmt.Errorf("warm-up failed: %d errors, first: %v", r.errors, r.firstErr)
	}
	r, err := measuredPhase(lg, o, cpu, b, "password", func() (result, error) {
		return lg.phase("password", o.agents, o.duration, lg.passwordSignIn), nil
	}, 0.80)
	if err != nil {
		return err
	}
	rep.results = append(rep.results, r)
	if peer != nil {
		fr, pr, err := ssoDuel(lg, peer, o, cpu, b)
		if err != nil {
			return err
		}
		rep.results = append(rep.results, pr, fr)
	} else {
		r, err := measuredPhase(lg, o, cpu, b, "sso", func() (result, error) { return lg.ssoPhase(o, b, o.duration) }, 0.80)
		if err != nil {
			return err
		}
		rep.results = append(rep.results, r)
	}
	mem := memory{server: "flexidp " + backend, idleKiB: env.idleRSSKiB}
	if o.burst > 0 && backend == backendPostgres {
		fmt.Printf("burst phase: %d sign-ins starting evenly over %s...\n", o.burst, o.burstWindow)
		rep.burst = lg.burst(o.burst, o.burstWindow, o.burstRetries)
		env.keepLog = rep.burst.errors > 0 // to see what the server did
		rep.burstEnv = env.srv.hashConcurrency
		mem.burst = true
		mem.peakKiB = rep.burst.serverPeakRSSKiB
		mem.afterKiB = currentRSSKiB(env.srv.cmd.Process.Pid)
		fmt.Printf("  waiting %s after the burst for the server's RSS to settle...\n", o.settle)
		select {
		case <-time.After(o.settle):
		case <-ctx.Done():
			return ctx.Err()
		}
		mem.settledKiB = currentRSSKiB(env.srv.cmd.Process.Pid)
	}
	rep.memory = append(rep.memory, mem)
	if err := env.srv.stop(); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}
