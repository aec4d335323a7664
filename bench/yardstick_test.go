package main

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/keys"
	"golang.org/x/sys/unix"
)

// TestReadProbeAttributesToSlices: a probe signature counts for the
// slices during which it started, and the rate is the mean of 1 over
// each signature's thread CPU time, whatever the wall time around them
// (5 signatures over 250 ms of wall time are not 20/s), and not their
// count over their total CPU time (the harmonic mean, 416.7/s here).
func TestReadProbeAttributesToSlices(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	// Two slices of the server, [0, 100) and [200, 300) ms; the other
	// server's slice in between signs faster.
	own := []window{{at(0), at(100)}, {at(200), at(300)}}
	samples := []probeSample{
		{at(0), ms(2)}, {at(50), ms(2)}, {at(99), ms(4)}, // first slice
		{at(100), ms(1)}, {at(150), ms(1)}, {at(199), ms(1)}, // between: not its
		{at(200), ms(2)}, {at(250), ms(2)}, // second slice
		{at(300), ms(1)}, // at the end: not its
	}
	for _, tc := range []struct {
		name       string
		ws         []window
		signatures int
		cpu        time.Duration
		rate       float64
		p10, p90   float64
	}{
		// 5 signatures in 12 ms of CPU: 500, 500, 250, 500, 500 /s.
		{"own slices", own, 5, ms(12), 450, 250, 500},
		{"the slice between", []window{{at(100), at(200)}}, 3, ms(3), 1000, 1000, 1000},
		{"no window", nil, 0, 0, 0, 0, 0},
		{"a window without samples", []window{{at(400), at(500)}}, 0, 0, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := readProbe(samples, tc.ws)
			if y.signatures != tc.signatures || y.cpu != tc.cpu {
				t.Fatalf("%d signatures in %s, want %d in %s", y.signatures, y.cpu, tc.signatures, tc.cpu)
			}
			for _, f := range []struct {
				name      string
				got, want float64
			}{{"rate", y.rate, tc.rate}, {"p10", y.p10, tc.p10}, {"p90", y.p90, tc.p90}} {
				if math.Abs(f.got-f.want) > 1e-6*max(1, f.want) {
					t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
				}
			}
		})
	}
}

// TestApplyBoundFromProbeDuringOwnSlices: in a duel, each server's sso
// bound rests on the probe's rate during its own slices, not on the rates
// before and after; without a probe signature it falls back to them.
func TestApplyBoundFromProbeDuringOwnSlices(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	slice := func(from int, ops int) result {
		return result{server: "s", name: "sso", ops: ops, started: t0.Add(time.Duration(from) * time.Second), elapsed: time.Second, serverCPU: 1}
	}
	// peer, flex, flex, peer: the machine signs at 500/s (2 ms) during
	// the peer's slices and 800/s (1.25 ms) during flexidp's.
	peer := []result{slice(0, 100), slice(3, 100)}
	flex := []result{slice(1, 200), slice(2, 200)}
	var samples []probeSample
	for s := range 4 {
		cpu := 2 * time.Millisecond
		if s == 1 || s == 2 {
			cpu = 1250 * time.Microsecond
		}
		for k := range 20 {
			samples = append(samples, probeSample{at: t0.Add(time.Duration(s)*time.Second + time.Duration(k)*probeEvery), cpu: cpu})
		}
	}
	a := around{what: "RSA", rates: [2]float64{600, 700}, bound: 325, scale: 0.5, probing: true, probed: samples}
	for _, tc := range []struct {
		name      string
		a         around
		rs        []result
		bound     float64
		ops       int
		probeSigs int
	}{
		{"flexidp", a, flex, 400, 400, 40},
		{"peer", a, peer, 250, 200, 40},
		{"no probe signature: the mean", around{what: "RSA", rates: a.rates, bound: 325, scale: 0.5, probing: true}, flex, 325, 400, 0},
		{"password: no probe", around{what: "argon2id", rates: [2]float64{20, 22}, bound: 21, scale: 1}, flex, 21, 400, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.a.apply(tc.rs, 0.8)
			if math.Abs(r.bound-tc.bound) > 1e-9 || r.ops != tc.ops || r.goal != 0.8 || r.rawAround != tc.a.rates {
				t.Fatalf("bound %v ops %d goal %v raw %v, want bound %v ops %d goal 0.8 raw %v", r.bound, r.ops, r.goal, r.rawAround, tc.bound, tc.ops, tc.a.rates)
			}
			switch {
			case tc.probeSigs < 0 && r.probe != nil:
				t.Errorf("a probe reading for %s", tc.a.what)
			case tc.probeSigs >= 0 && (r.probe == nil || r.probe.signatures != tc.probeSigs):
				t.Errorf("probe %+v, want %d signatures", r.probe, tc.probeSigs)
			}
		})
	}
}

// TestProbeTimesSignaturesInCPUTime: the probe times each signature with
// the thread CPU clock it is given, not the wall clock, and reports an
// error of its signing.
func TestProbeTimesSignaturesInCPUTime(t *testing.T) {
	var fakeCPU time.Duration // read and advanced only on the probe's thread
	signed := make(chan struct{}, 100)
	sign := func() error {
		fakeCPU += 3 * time.Millisecond
		time.Sleep(time.Millisecond) // wall time the CPU clock does not see
		signed <- struct{}{}
		return nil
	}
	p := startProbe(cpuPlan{}, time.Millisecond, sign, func() time.Duration { return fakeCPU })
	for range 5 {
		<-signed
	}
	samples, err := p.stop()
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) < 5 {
		t.Fatalf("%d samples, want at least 5", len(samples))
	}
	for i, s := range samples {
		if s.cpu != 3*time.Millisecond {
			t.Errorf("sample %d took %s, want the 3ms of the CPU clock", i, s.cpu)
		}
	}

	boom := errors.New("boom")
	p = startProbe(cpuPlan{}, time.Millisecond, func() error { return boom }, func() time.Duration { return 0 })
	<-p.done // it stops at its first signature
	if _, err := p.stop(); !errors.Is(err, boom) {
		t.Fatalf("stop: %v, want the signing's error", err)
	}
}

// TestYardstickReadsSaturatingLoad is the benchmark's self-check: on one
// pinned CPU, a stand-in server signing in a tight loop gets the rate per
// CPU-second the probe reads beside it, within 15 % (the median of three
// checks of 2 s: other programs share this machine's CPUs).
func TestYardstickReadsSaturatingLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the self-check signs for 6 s")
	}
	if runtime.NumCPU() < 2 {
		t.Skip("fewer than 2 CPUs: the stand-in and the probe cannot have a CPU of their own")
	}
	cpu, err := planCPUs(1)
	if err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, keys.DefaultBits)
	if err != nil {
		t.Fatal(err)
	}
	var ratios []float64
	for range 3 {
		y, err := bounds{key: key}.checkYardstick(cpu, 1, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Log(y.describe())
		if y.probe.signatures < 20 {
			t.Fatalf("the probe signed %d times in 2 s, want about 40", y.probe.signatures)
		}
		ratios = append(ratios, y.ratio())
	}
	slices.Sort(ratios)
	if r := ratios[1]; r < 0.85 || r > 1.15 {
		t.Errorf("RSA-only load at %.1f %% of the probe's rate (median of %.1f, %.1f, %.1f %%), want 85-115 %%",
			100*r, 100*ratios[0], 100*ratios[1], 100*ratios[2])
	}
}

// TestProbeRunsRealTime: the probe signs at real-time priority, so the
// server it measures cannot preempt a signature half-way (which charged
// the probe with refilling its caches, and read a busier server's speed
// lower: 6-9 % lower during flexidp's slices than the peer's, in three
// runs out of three), and its thread goes back to normal priority after.
func TestProbeRunsRealTime(t *testing.T) {
	if err := realTime(true); err != nil {
		t.Skipf("real-time priority refused here (%v): the bench warns and runs the probe at normal priority", err)
	}
	if err := realTime(false); err != nil {
		t.Fatal(err)
	}
	policy := func() uint32 {
		a, err := unix.SchedGetAttr(0, 0)
		if err != nil {
			t.Error(err)
			return 0
		}
		return a.Policy
	}
	var during []uint32
	p := startProbe(cpuPlan{}, time.Millisecond, func() error {
		during = append(during, policy())
		if len(during) == 3 {
			return errors.New("enough")
		}
		return nil
	}, threadCPU)
	<-p.done
	if len(during) != 3 || during[0] != unix.SCHED_FIFO || during[2] != unix.SCHED_FIFO {
		t.Errorf("the probe signed under scheduling policies %v, want SCHED_FIFO (%d)", during, unix.SCHED_FIFO)
	}
}

// TestAllOnServerCPUs: for a raw rate whose work runs on goroutines of its
// own (argon2id's lanes), every thread of the process is on the server's
// CPUs while it is measured, and back on the rest after; a thread pinned
// alone left argon2id's work on the agents' CPU.
func TestAllOnServerCPUs(t *testing.T) {
	cpu, err := planCPUs(1)
	if err != nil || !cpu.pinned() {
		t.Skipf("needs 2 CPUs to pin (%v)", err)
	}
	if err := cpu.pinSelf(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var all unix.CPUSet
		for _, id := range append(slices.Clone(cpu.serverIDs), cpu.restIDs...) {
			all.Set(id)
		}
		_ = cpu.pinAll(&all)
	})
	allowed := func() map[string]bool {
		seen := map[string]bool{}
		tids, _ := filepath.Glob("/proc/self/task/*/status")
		for _, f := range tids {
			b, err := os.ReadFile(f)
			if err != nil {
				continue // the thread ended
			}
			for line := range strings.SplitSeq(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
					seen[strings.TrimSpace(v)] = true
				}
			}
		}
		return seen
	}
	server, rest := ids(cpu.serverIDs), ids(cpu.restIDs)
	var during map[string]bool
	var lanes sync.WaitGroup
	if err := cpu.allOnServerCPUs(func() error {
		for range 4 { // goroutines on threads of their own, as argon2id's lanes
			lanes.Go(func() { time.Sleep(10 * time.Millisecond) })
		}
		during = allowed()
		lanes.Wait()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(during) != 1 || !during[server] {
		t.Errorf("threads allowed on %v while measuring, want all on %s", during, server)
	}
	if after := allowed(); len(after) != 1 || !after[rest] {
		t.Errorf("threads allowed on %v after, want all back on %s", after, rest)
	}
}
