package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/flexidp/flexidp/internal/users"
)

// report prints the results and whether each target is met; it returns
// true when an operation failed.
func report(w io.Writer, results []result, burst *burstResult, env *environment, o options) (failed bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tagents\tok\terrors\trate/s\tbound/s\tof bound\ttarget\tp50\tp95\tp99\tserver CPU-s\tper server CPU-s\tagents CPU-s\t")
	for _, r := range results {
		verdict := "met"
		if r.rate() < r.target*r.bound {
			verdict = "MISSED"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f\t%.1f\t%.1f%%\t>= %.0f%% %s\t%s\t%s\t%s\t%.1f\t%.1f\t%.1f\t\n",
			r.name, r.agents, r.ops, r.errors, r.rate(), r.bound, 100*r.rate()/r.bound, 100*r.target, verdict,
			ms(r.percentile(0.50)), ms(r.percentile(0.95)), ms(r.percentile(0.99)),
			r.serverCPU, float64(r.ops)/r.serverCPU, r.agentCPU)
		failed = failed || r.errors > 0
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "  rate/s: sign-ins/s (password) or responses/s (sso), wall clock; per server CPU-s: the same per CPU-second the server used")
	for _, r := range results {
		if r.errors > 0 {
			fmt.Fprintf(w, "  %s: first error: %v\n", r.name, r.firstErr)
		}
	}

	hashMiB := float64(users.DefaultParams.Memory) / 1024
	if burst != nil {
		b := burst
		verdict := "met"
		if b.errors > 0 || b.ops < b.agents || b.lastDone > b.window+time.Minute/6 {
			verdict = "MISSED"
		}
		fmt.Fprintf(w, "\nburst: %d sign-ins arriving evenly over %s: %d ok, %d errors; last done at %.1fs; %.1f sign-ins/s; p50 %s p95 %s p99 %s max %s\n",
			b.agents, b.window, b.ops, b.errors, b.lastDone.Seconds(), b.rate(),
			ms(b.percentile(0.50)), ms(b.percentile(0.95)), ms(b.percentile(0.99)), ms(b.percentile(1)))
		fmt.Fprintf(w, "  server peak RSS during the burst %.1f MiB; password hashing holds at most %d x %.0f MiB = %.0f MiB (hash concurrency from IDP_HASH_MEMORY_MIB=%d and GOMAXPROCS=%d) -> %s\n",
			float64(b.serverPeakRSSKiB)/1024, env.srv.hashConcurrency, hashMiB, float64(env.srv.hashConcurrency)*hashMiB,
			o.hashMemoryMiB, o.cpus, verdict)
		if b.errors > 0 {
			fmt.Fprintf(w, "  first error: %v\n", b.firstErr)
		}
		failed = failed || b.errors > 0
	}

	srv, _ := readProc(env.srv.pid())
	self, _ := readProc("self")
	fmt.Fprintf(w, "\npeak RSS (VmHWM): server %.1f MiB (since the burst began, when there is one); benchmark process (agents, verification) %.1f MiB\n",
		float64(srv.peakRSSKiB)/1024, float64(self.peakRSSKiB)/1024)
	return failed
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }
