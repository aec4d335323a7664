package main

import (
	"cmp"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The RSA probe is the sso phases' yardstick. This machine's speed varies
// from one second to the next (a pinned RSA loop read 521 to 800
// signatures/s in consecutive seconds, per wall second and per thread
// CPU-second alike), so a raw rate read before and after a phase can miss
// the speed the server had during it. The probe reads the raw rate at the
// same moments as the server works: one thread on the server's CPUs makes
// one raw signature every probeEvery, each timed in its own thread CPU
// time, so being kept waiting by the server does not count, at real-time
// priority, so that no signature is preempted half-way by the server it
// measures (at normal priority the probe read 6-9 % slower during
// flexidp's slices than during the peer's, three runs out of three; at
// real-time priority the two read alike). Its duty is about 3 %, and the
// server's per-CPU-second figure is its own CPU time.

// probeEvery is how often the probe signs.
const probeEvery = 50 * time.Millisecond

// probeSample is one signature of the probe: when it started (wall
// clock, to attribute it to a slice) and the thread CPU time it took.
type probeSample struct {
	at  time.Time
	cpu time.Duration
}

// probe signs on the server's CPUs while a phase runs; stop ends it.
type probe struct {
	quit    chan struct{}
	done    chan struct{}
	samples []probeSample
	err     error
}

// startProbe signs with sign every interval, on a thread locked to the
// server's CPUs, and times each signature with cpuNow (threadCPU, or a
// fake in tests).
func startProbe(cpu cpuPlan, every time.Duration, sign func() error, cpuNow func() time.Duration) *probe {
	p := &probe{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		// Thread CPU time is that of this goroutine's thread only if it
		// keeps it (onServerCPUs locks it only when it pins).
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		p.err = cpu.onServerCPUs(func() error {
			// Real-time priority: each signature runs to its end, never
			// preempted by the server's threads as they wake (which would
			// charge the probe with refilling its caches, more for a
			// server that wakes more: the yardstick would move with the
			// server it measures). At about 3 % duty it starves nothing.
			if err := realTime(true); err != nil {
				realTimeRefused.Do(func() {
					fmt.Fprintf(os.Stderr, "warning: %v: the RSA probe runs at normal priority, and reads a busier server's speed lower (run as root, or with CAP_SYS_NICE)\n", err)
				})
			} else {
				defer func() { _ = realTime(false) }()
			}
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-p.quit:
					return nil
				case <-t.C:
				}
				at, c0 := time.Now(), cpuNow()
				if err := sign(); err != nil {
					return err
				}
				p.samples = append(p.samples, probeSample{at: at, cpu: cpuNow() - c0})
			}
		})
	}()
	return p
}

// stop ends the probe and returns its signatures.
func (p *probe) stop() ([]probeSample, error) {
	close(p.quit)
	<-p.done
	return p.samples, p.err
}

// realTimeRefused warns once when the probe may not run at real-time
// priority.
var realTimeRefused sync.Once

// realTime puts the calling thread in SCHED_FIFO at the lowest real-time
// priority (on), or back in SCHED_OTHER.
func realTime(on bool) error {
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL}
	if on {
		attr.Policy, attr.Priority = unix.SCHED_FIFO, 1
	}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		return fmt.Errorf("probe thread scheduling policy %d: %w", attr.Policy, err)
	}
	return nil
}

// threadCPU is the CPU time of the calling thread.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(fmt.Sprintf("CLOCK_THREAD_CPUTIME_ID: %v", err)) // Linux has had it since 2.6.12
	}
	return time.Duration(ts.Nano())
}

// window is a span of wall-clock time: a slice's measured window.
type window struct{ from, to time.Time }

// windowsOf are the measured windows of the slices rs.
func windowsOf(rs []result) []window {
	w := make([]window, len(rs))
	for i, r := range rs {
		w[i] = window{r.started, r.started.Add(r.elapsed)}
	}
	return w
}

// probeReading is what the probe read during some windows: its
// signatures, the thread CPU time they took, the rate it reads, and the
// spread of the per-signature rates.
type probeReading struct {
	signatures int
	cpu        time.Duration
	rate       float64 // the mean of the per-signature rates, per second
	p10, p90   float64 // of the per-signature rates
}

// readProbe takes the samples that started within one of the windows
// (the server's own slices; those taken between them, while Responses
// are verified or the other server runs, are not its). Each sample's
// rate is 1 over the thread CPU time its signature took, not the wall
// time around it (the probe waits for the server's CPU), and the
// reading is their mean: the samples are evenly spaced in time, and
// what the server could sign is the speed averaged over its time. The
// signatures over their CPU time would be the harmonic mean, which reads
// low when the speed varies (by 3 points of the self-check here).
func readProbe(samples []probeSample, ws []window) probeReading {
	var y probeReading
	var each []float64
	for _, s := range samples {
		if !slices.ContainsFunc(ws, func(w window) bool { return !s.at.Before(w.from) && s.at.Before(w.to) }) || s.cpu <= 0 {
			continue
		}
		y.signatures++
		y.cpu += s.cpu
		r := 1 / s.cpu.Seconds()
		each = append(each, r)
		y.rate += r
	}
	if y.signatures == 0 {
		return y
	}
	y.rate /= float64(y.signatures)
	slices.Sort(each)
	y.p10, y.p90 = each[int(0.10*float64(len(each)-1))], each[int(0.90*float64(len(each)-1))]
	return y
}

func (y probeReading) describe() string {
	if y.signatures == 0 {
		return "no probe signature"
	}
	return fmt.Sprintf("probe %d signatures, %.1f /s per probe CPU-s (per signature p10-p90 %.0f-%.0f /s)", y.signatures, y.rate, y.p10, y.p90)
}

// yardstick is the probe's self-check: a stand-in server doing nothing
// but RSA on the server's CPUs, with the probe beside it.
type yardstick struct {
	load  float64 // the stand-in's signatures per its CPU-second
	probe probeReading
}

// ratio is the stand-in's rate over the probe's: 1 when the probe reads
// the speed a saturating load gets; above 1 when the probe reads slower
// (cache or context switches after each sleep), which would flatter the
// servers' "of bound".
func (y yardstick) ratio() float64 { return y.load / y.probe.rate }

// checkYardstick runs the stand-in (one thread per server CPU, signing in
// a tight loop, timed in thread CPU time as the probe is) for d with the
// probe beside it.
func (b bounds) checkYardstick(cpu cpuPlan, cpus int, d time.Duration) (yardstick, error) {
	var y yardstick
	p := startProbe(cpu, probeEvery, b.rsaSign(), threadCPU)
	var (
		mu       sync.Mutex
		n        int
		used     time.Duration
		firstErr error
		wg       sync.WaitGroup
	)
	from := time.Now()
	for range cpus {
		wg.Go(func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			sign := b.rsaSign()
			err := cpu.onServerCPUs(func() error {
				k, c0 := 0, threadCPU()
				for end := time.Now().Add(d); time.Now().Before(end); k++ {
					if err := sign(); err != nil {
						return err
					}
				}
				mu.Lock()
				n, used = n+k, used+threadCPU()-c0
				mu.Unlock()
				return nil
			})
			mu.Lock()
			firstErr = cmp.Or(firstErr, err)
			mu.Unlock()
		})
	}
	wg.Wait()
	to := time.Now()
	samples, err := p.stop()
	if err = cmp.Or(firstErr, err); err != nil {
		return y, fmt.Errorf("yardstick: %w", err)
	}
	y.load = float64(n) / used.Seconds()
	y.probe = readProbe(samples, []window{{from, to}})
	return y, nil
}

// yardstickTime is how long the self-check runs.
const yardstickTime = 4 * time.Second

// yardstickTolerance is how far from 100 % the self-check may read before
// the benchmark warns that the probe does not read a saturating load's
// speed.
const yardstickTolerance = 0.05

func (y yardstick) describe() string {
	x := 100 * y.ratio()
	s := fmt.Sprintf("RSA-only load: %.1f %% of the probe's bound per its CPU-second (a stand-in server signing in a tight loop on the server's CPU: %.1f /s per its CPU-s; beside it %s)",
		x, y.load, y.probe.describe())
	switch {
	case y.probe.signatures == 0:
		s += "; the probe did not sign: the sso bounds cannot be checked"
	case y.ratio() > 1+yardstickTolerance:
		s += fmt.Sprintf("; the probe reads SLOWER than a saturating load: the sso \"of bound\" figures are flattered by about %.0f %%", x-100)
	case y.ratio() < 1-yardstickTolerance:
		s += fmt.Sprintf("; the probe reads FASTER than a saturating load: the sso \"of bound\" figures are understated by about %.0f %%", 100-x)
	default:
		s += fmt.Sprintf("; within ±%.0f %%: the probe reads the speed a saturating load gets", 100*yardstickTolerance)
	}
	return s
}
