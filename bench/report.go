package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/users"
)

// runReport is everything one run measured.
type runReport struct {
	bounds   bounds
	cold     *coldBuild
	results  []result
	burst    *burstResult
	burstEnv int // the burst server's hash concurrency
	memory   []memory

	// yardstick is the RSA probe's self-check, run once at the start.
	yardstick yardstick
}

// memory is a server's resident memory: idle (started, nothing served)
// and, with a burst, its peak, right after it and once settled.
type memory struct {
	server                        string
	idleKiB                       int64
	burst                         bool
	peakKiB, afterKiB, settledKiB int64
}

// report prints the results as a Markdown table (the one
// docs/performance.md keeps) and whether each target is met; it returns
// true when an operation failed.
func report(w io.Writer, rep *runReport, o options) (failed bool) {
	b := rep.bounds
	fmt.Fprintf(w, "bounds (one core x %d): RSA-2048 SHA-256 %.1f signatures/s -> SSO %.1f responses/s; argon2id %.1f/s -> password %.1f sign-ins/s\n\n",
		o.cpus, b.rsaPerCore, b.sso, b.argonPerCore, b.signIn)
	fmt.Fprintln(w, "| server | phase | ok | errors | per s (wall) | of bound | per server CPU-s | of bound | p50 / p95 / p99 ms | server CPU-s | allocs/op | KB/op | statements/op | BEGIN+COMMIT/op | commits/op | PostgreSQL CPU ms/op | PostgreSQL exec ms/op |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rep.results {
		perCPU := float64(r.ops) / r.serverCPU
		c := r.cost
		fmt.Fprintf(w, "| %s | %s | %d | %d | %.1f | %.1f %% | %.1f | %.1f %% | %.0f / %.0f / %.0f | %.1f | %s | %s | %s | %s | %s | %s | %s |\n",
			r.server, r.name, r.ops, r.errors, r.rate(), 100*r.rate()/r.bound, perCPU, 100*perCPU/r.bound,
			msf(r.percentile(0.50)), msf(r.percentile(0.95)), msf(r.percentile(0.99)), r.serverCPU,
			num(c.per(c.mallocs), 0), num(c.per(c.allocBytes)/1024, 0), num(c.per(c.statements), 2), num(c.per(c.txControl), 2),
			num(c.per(c.writeXacts), 2), num(1000*c.per(c.pgCPU), 2), num(c.per(c.pgExecMS), 3))
		failed = failed || r.errors > 0
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "  per s (wall): sign-ins/s (password) or responses/s (sso); per server CPU-s: the same per CPU-second the server process used;")
	fmt.Fprintln(w, "  /op: per sign-in (password: GET /saml/sso + POST /login) or per Response (sso: one GET /saml/sso); allocs and KB: the server's")
	fmt.Fprintln(w, "  runtime.MemStats Mallocs and TotalAlloc; statements: pg_stat_statements calls other than BEGIN/COMMIT/ROLLBACK; commits:")
	fmt.Fprintln(w, "  transactions that wrote (transaction IDs assigned); PostgreSQL CPU: utime+stime of all its processes (/proc), exec: total_exec_time.")
	fmt.Fprintln(w, "  of bound: sso against the RSA rate (two signatures a Response) the probe read on the server's CPU during that server's")
	fmt.Fprintln(w, "  own slices, one signature every 50 ms timed in the probe thread's CPU time (the machine's speed varies from second to")
	fmt.Fprintln(w, "  second); password against the mean argon2id rate measured right before and right after the phase. Every sso Response")
	fmt.Fprintln(w, "  is verified by crewjam's SP after the phase, as of its arrival.")
	fmt.Fprintf(w, "  yardstick: %s\n", rep.yardstick.describe())
	for _, r := range rep.results {
		if r.rawAround[0] > 0 {
			probe := ""
			if r.probe != nil {
				probe = "; during its slices " + r.probe.describe()
				if r.probe.signatures == 0 {
					probe += " (the bound is that of the rates' mean)"
				}
			}
			fmt.Fprintf(w, "  %s %s: %s %.1f /s before, %.1f /s after%s -> bound %.1f/s; server CPU busy %.0f %% of the phase\n",
				r.server, r.name, r.rawName, r.rawAround[0], r.rawAround[1], probe, r.bound, 100*r.serverCPU/r.elapsed.Seconds()/float64(o.cpus))
		}
	}
	for _, r := range rep.results {
		if r.errors > 0 {
			fmt.Fprintf(w, "  %s %s: first error: %v\n", r.server, r.name, r.firstErr)
		}
	}

	// Against the targets and the peer.
	fmt.Fprintln(w)
	for _, r := range rep.results {
		if r.server == "crewjam samlidp" {
			fmt.Fprintf(w, "%s %s: %.1f %% of the two-signature bound per server CPU-s\n", r.server, r.name, 100*float64(r.ops)/r.serverCPU/r.bound)
			continue
		}
		perCPU := float64(r.ops) / r.serverCPU
		verdict := "met"
		if perCPU < r.goal*r.bound {
			verdict = "MISSED"
		}
		line := fmt.Sprintf("%s %s: %.1f %% of the bound per server CPU-s (target >= %.0f %%: %s)", r.server, r.name, 100*perCPU/r.bound, 100*r.goal, verdict)
		if p := r.vsPeer; p != nil && p.ops > 0 {
			// Both measured in alternating slices over the same minute
			// (ssoDuel): the drift of the machine's speed is shared.
			ratio := perCPU / (float64(p.ops) / p.serverCPU)
			ahead := "ahead of"
			if ratio < 1 {
				ahead = "BEHIND"
			}
			line += fmt.Sprintf("; %.2f x crewjam samlidp per server CPU-s, in alternating slices of the same minute (%s the peer)", ratio, ahead)
		}
		fmt.Fprintln(w, line)
	}

	if bu := rep.burst; bu != nil {
		failed = reportBurst(w, bu, b, rep.burstEnv, o) || failed
	}

	fmt.Fprintln(w, "\n| server | idle RSS | burst peak RSS | RSS right after the burst | RSS after settling |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, m := range rep.memory {
		verdict := ""
		if m.idleKiB >= 25*1024 {
			verdict = " (target < 25 MiB: MISSED)"
		}
		if !m.burst {
			fmt.Fprintf(w, "| %s | %s%s | | | |\n", m.server, mib(m.idleKiB), verdict)
			continue
		}
		fmt.Fprintf(w, "| %s | %s%s | %s | %s | %s (after %s) |\n", m.server, mib(m.idleKiB), verdict, mib(m.peakKiB), mib(m.afterKiB), mib(m.settledKiB), o.settle)
	}
	if rep.cold != nil {
		fmt.Fprintf(w, "\nfirst run: %s (before pinning, every CPU; target: a cold `go run ./cmd/idp dev` under 2 minutes on a quiet 2-core machine)\n", rep.cold.describe())
	}
	self, _ := readProc("self")
	fmt.Fprintf(w, "peak RSS of the benchmark process (agents, verification): %.1f MiB\n", float64(self.peakRSSKiB)/1024)
	return failed
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

// num formats v with prec decimals, or "n/a" when it was not measured.
func num(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	s := fmt.Sprintf("%.*f", prec, v)
	if prec == 0 && len(s) > 3 {
		// thousands separators for the large counts
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		return b.String()
	}
	return s
}

// reportBurst prints the burst: completed sign-ins, the "busy" answers
// honoured, errors (no answer, EOF, timeout, a status other than 503,
// gave up), how long people were told to wait, and whether the arrival
// rate was above what hashing can serve. It returns true on an error.
func reportBurst(w io.Writer, bu *burstResult, b bounds, concurrency int, o options) (failed bool) {
	arrival := float64(bu.agents) / bu.window.Seconds()
	need := time.Duration(float64(bu.agents) / b.signIn * float64(time.Second))
	verdict := "met"
	if bu.errors > 0 || bu.ops < bu.agents || (arrival <= b.signIn && bu.lastDone > bu.window+time.Minute/6) {
		verdict = "MISSED"
	}
	fmt.Fprintf(w, "\nburst (PostgreSQL): %d sign-ins arriving evenly over %s (%.1f/s): %d completed, %d errors (%d gave up after %d busy answers) -> %s (target: all %d, 0 errors)\n",
		bu.agents, bu.window, arrival, bu.ops, bu.errors, bu.gaveUp, bu.retries+1, verdict, bu.agents)
	if arrival > b.signIn {
		fmt.Fprintf(w, "  the arrival rate %.1f/s is ABOVE the measured argon2id bound %.1f sign-ins/s on %d CPU(s): hashing alone needs %.0fs for %d sign-ins, so some are told \"busy, try again\" (503) and finish after the window\n",
			arrival, b.signIn, o.cpus, need.Seconds(), bu.agents)
	} else {
		fmt.Fprintf(w, "  the arrival rate %.1f/s is within the measured argon2id bound %.1f sign-ins/s (hashing alone needs %.0fs)\n", arrival, b.signIn, need.Seconds())
	}
	fmt.Fprintf(w, "  shed: %d answers 503 \"busy, try again in N s\" honoured (Retry-After, at most %d per sign-in); %d completed sign-ins had at least one\n",
		bu.shed, bu.retries, bu.retried)
	fmt.Fprintf(w, "  last done at %.1fs; %.1f sign-ins/s; time waiting for the server p50 %s p95 %s p99 %s max %s\n",
		bu.lastDone.Seconds(), bu.rate(), ms(bu.percentile(0.50)), ms(bu.percentile(0.95)), ms(bu.percentile(0.99)), ms(bu.percentile(1)))
	fmt.Fprintf(w, "  told to wait (Retry-After honoured, per completed sign-in): p50 %s p95 %s p99 %s max %s; arrival to signed in: p50 %s p95 %s p99 %s max %s\n",
		secs(quantile(bu.waits, 0.50)), secs(quantile(bu.waits, 0.95)), secs(quantile(bu.waits, 0.99)), secs(quantile(bu.waits, 1)),
		secs(quantile(bu.spans, 0.50)), secs(quantile(bu.spans, 0.95)), secs(quantile(bu.spans, 0.99)), secs(quantile(bu.spans, 1)))
	hashMiB := float64(users.DefaultParams.Memory) / 1024
	fmt.Fprintf(w, "  password hashing holds at most %d x %.0f MiB = %.0f MiB (hash concurrency from IDP_HASH_MEMORY_MIB=%d and GOMAXPROCS=%d)\n",
		concurrency, hashMiB, float64(concurrency)*hashMiB, o.hashMemoryMiB, o.cpus)
	if bu.errors > 0 {
		kinds := make([]string, 0, len(bu.errorKinds))
		for k, n := range bu.errorKinds {
			kinds = append(kinds, fmt.Sprintf("%s: %d", k, n))
		}
		slices.Sort(kinds)
		fmt.Fprintf(w, "  errors by kind: %s\n", strings.Join(kinds, "; "))
		fmt.Fprintf(w, "  first error: %v\n", bu.firstErr)
	}
	return bu.errors > 0
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }
