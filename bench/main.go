// Command bench is flexidp's load benchmark (docs/performance.md).
//
//	go run ./bench [--cpus 1] [--agents 50] [--duration 20s] [--burst 2000 --burst-window 1m] [--shared-account]
//
// It starts PostgreSQL (a throwaway cluster, or --database-url), seeds
// users and a Flex service provider, runs `idp serve` built from ./cmd/idp
// pinned to --cpus CPUs with GOMAXPROCS set to match, and drives virtual
// agents through the SP-initiated flow with crewjam's SP playing Flex:
// AuthnRequest -> GET /saml/sso -> login form -> POST /login -> signed
// Response, parsed and verified with crewjam's ParseXMLResponse. Phases:
//
//   - password: every sign-in starts without a session and types the password;
//   - sso: agents with a session send a new AuthnRequest and get a Response;
//   - burst: --burst agents arrive evenly over --burst-window and sign in once.
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
	"runtime"
	"syscall"
	"time"
)

// options are the benchmark's flags.
type options struct {
	cpus          int
	agents        int
	duration      time.Duration
	burst         int
	burstWindow   time.Duration
	databaseURL   string
	idpBinary     string
	hashMemoryMiB int
	boundsTime    time.Duration
	// sharedAccount: every agent signs in as one user.
	sharedAccount bool
	// lockoutThreshold is the server's IDP_LOCKOUT_THRESHOLD; 0 leaves its default.
	lockoutThreshold int
}

func main() {
	var o options
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	fs.IntVar(&o.cpus, "cpus", 1, "CPUs given to the server (GOMAXPROCS and CPU affinity); the agents and PostgreSQL get the others")
	fs.IntVar(&o.agents, "agents", 50, "concurrent virtual agents in the password and sso phases")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "length of the password and sso phases")
	fs.IntVar(&o.burst, "burst", 2000, "sign-ins in the burst phase (0 skips it)")
	fs.DurationVar(&o.burstWindow, "burst-window", time.Minute, "the burst's sign-ins start evenly over this window")
	fs.StringVar(&o.databaseURL, "database-url", os.Getenv("IDP_DATABASE_URL"), "PostgreSQL to use (IDP_DATABASE_URL); default: a throwaway cluster")
	fs.StringVar(&o.idpBinary, "idp", "", "prebuilt idp binary; default: go build ./cmd/idp")
	fs.IntVar(&o.hashMemoryMiB, "hash-memory", 256, "the server's IDP_HASH_MEMORY_MIB")
	fs.BoolVar(&o.sharedAccount, "shared-account", false, "every agent signs in as the same user (a shared login, one agent's many tabs); at most --lockout-threshold of its sign-ins are checked at once")
	fs.IntVar(&o.lockoutThreshold, "lockout-threshold", 0, "the server's IDP_LOCKOUT_THRESHOLD (default: the server's, 10)")
	fs.DurationVar(&o.boundsTime, "bounds-time", 3*time.Second, "how long each raw rate (RSA, argon2id) is measured")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run ./bench [flags]\n\nflexidp load benchmark: see docs/performance.md.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	_ = fs.Parse(os.Args[1:])
	if fs.NArg() > 0 || o.cpus < 1 || o.agents < 1 || o.duration <= 0 || o.burst < 0 {
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
	fmt.Printf("server:  idp serve, GOMAXPROCS=%d, %s\n", o.cpus, cpu.describe())

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

	env, err := startEnvironment(ctx, o, cpu, max(o.agents, o.burst))
	if err != nil {
		return false, err
	}
	defer env.close()
	fmt.Printf("\nPostgreSQL: %s; %d users and SP flex seeded; server %s, hash concurrency %d (%d MiB budget), log %s\n",
		env.dbWhere, env.users, env.base, env.srv.hashConcurrency, o.hashMemoryMiB, env.srv.logPath)
	if o.sharedAccount {
		fmt.Printf("every agent signs in as %s\n", fmt.Sprintf(emailPattern, 0))
	}

	lg, err := newLoad(ctx, env)
	if err != nil {
		return false, err
	}
	fmt.Printf("\nwarm-up: each of %d agents signs in once...\n", o.agents)
	if r := lg.warmUp(o.agents); r.errors > 0 {
		env.keepLog = true
		return true, fmt.Errorf("warm-up failed: %d errors, first: %v", r.errors, r.firstErr)
	}

	var results []result
	fmt.Printf("password phase: %d agents, %s...\n", o.agents, o.duration)
	results = append(results, lg.phase("password", o.agents, o.duration, lg.passwordSignIn, b.signIn, 0.80))
	fmt.Printf("sso phase: %d agents with a session, %s...\n", o.agents, o.duration)
	results = append(results, lg.phase("sso", o.agents, o.duration, lg.sessionSSO, b.sso, 0.85))
	var burst *burstResult
	if o.burst > 0 {
		fmt.Printf("burst phase: %d sign-ins starting evenly over %s...\n", o.burst, o.burstWindow)
		burst = lg.burst(o.burst, o.burstWindow)
	}

	fmt.Println()
	failed = report(os.Stdout, results, burst, env, o)
	env.keepLog = failed
	if err := env.srv.stop(); err != nil {
		return true, fmt.Errorf("server: %w", err)
	}
	if failed {
		return true, errors.New("some operations failed; see above and the server log")
	}
	return false, nil
}
