package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// cpuPlan splits the CPUs this process may use between the server and the
// rest (agents, PostgreSQL). With no CPU left over, nothing is pinned.
type cpuPlan struct {
	server, rest unix.CPUSet
	serverIDs    []int
	restIDs      []int
}

func planCPUs(serverCPUs int) (cpuPlan, error) {
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		return cpuPlan{}, fmt.Errorf("read CPU affinity: %w", err)
	}
	var p cpuPlan
	for id := 0; id < 1024 && len(p.serverIDs)+len(p.restIDs) < all.Count(); id++ {
		if !all.IsSet(id) {
			continue
		}
		if len(p.serverIDs) < serverCPUs {
			p.serverIDs = append(p.serverIDs, id)
			p.server.Set(id)
		} else {
			p.restIDs = append(p.restIDs, id)
			p.rest.Set(id)
		}
	}
	if len(p.serverIDs) < serverCPUs {
		return cpuPlan{}, fmt.Errorf("--cpus %d: only %d CPUs available", serverCPUs, len(p.serverIDs))
	}
	return p, nil
}

// pinned says whether the server has CPUs of its own.
func (p cpuPlan) pinned() bool { return len(p.restIDs) > 0 }

func (p cpuPlan) describe() string {
	if !p.pinned() {
		return fmt.Sprintf("not pinned: agents and PostgreSQL share CPUs %v with it (see the per-CPU-second figures)", p.serverIDs)
	}
	return fmt.Sprintf("pinned to CPU %s; agents and PostgreSQL on CPU %s", ids(p.serverIDs), ids(p.restIDs))
}

func ids(v []int) string {
	s := make([]string, len(v))
	for n, id := range v {
		s[n] = strconv.Itoa(id)
	}
	return strings.Join(s, ",")
}

// pinSelf moves every thread of this process to the rest CPUs. Threads and
// processes started later inherit the mask of the thread that makes them.
func (p cpuPlan) pinSelf() error { return p.pinAll(&p.rest) }

// allOnServerCPUs runs f with every thread of this process on the server's
// CPUs, then moves them all back to the rest: for a raw rate whose work
// runs on goroutines of its own (argon2id computes each lane in one), which
// a thread pinned alone would leave on the rest CPUs. Nothing else of the
// benchmark may run meanwhile.
func (p cpuPlan) allOnServerCPUs(f func() error) error {
	if !p.pinned() {
		return f()
	}
	if err := p.pinAll(&p.server); err != nil {
		return err
	}
	err := f()
	if perr := p.pinAll(&p.rest); err == nil {
		err = perr
	}
	return err
}

// pinAll moves every thread of this process to set.
func (p cpuPlan) pinAll(set *unix.CPUSet) error {
	if !p.pinned() {
		return nil
	}
	tids, err := filepath.Glob("/proc/self/task/*")
	if err != nil {
		return err
	}
	for _, t := range tids {
		tid, err := strconv.Atoi(filepath.Base(t))
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
			return fmt.Errorf("pin thread %d: %w", tid, err)
		}
	}
	return nil
}

// onServerCPUs runs f on a thread pinned to the server's CPUs (to measure
// raw rates, or to start the server so it inherits the mask), then moves
// the thread back.
func (p cpuPlan) onServerCPUs(f func() error) error {
	if !p.pinned() {
		return f()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.SchedSetaffinity(0, &p.server); err != nil {
		return fmt.Errorf("pin to the server CPUs: %w", err)
	}
	defer func() { _ = unix.SchedSetaffinity(0, &p.rest) }()
	return f()
}

// machine describes where the benchmark ran.
type machine struct {
	model string
	cpus  int
}

func describeMachine() machine {
	m := machine{model: "unknown CPU", cpus: runtime.NumCPU()}
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			m.model = strings.TrimSpace(v)
			break
		}
	}
	return m
}

// procStats are what /proc tells about a process: CPU time used and peak
// resident memory.
type procStats struct {
	cpuSeconds float64
	peakRSSKiB int64
}

// readProc reads /proc/<pid>/stat and /proc/<pid>/status ("self" for this
// process).
func readProc(pid string) (procStats, error) {
	var st procStats
	f, err := procStatFields(pid)
	if err != nil {
		return st, err
	}
	st.cpuSeconds = ticks(f, 11) + ticks(f, 12)
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return st, err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			st.peakRSSKiB, _ = strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return st, nil
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// resetPeakRSS restarts a process's VmHWM from its current RSS (Linux
// clear_refs), so the peak of one phase can be read.
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}
