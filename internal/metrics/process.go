package metrics

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"strconv"
	"strings"
)

// procRoot is where the process facts are read (a test may point it at a
// fixture).
var procRoot = "/proc"

// userHZ is the unit of /proc/self/stat's times: USER_HZ, 100 on every
// Linux ABI (procfs assumes it too).
const userHZ = 100

// AddProcess registers the process's metrics under client_golang's names:
// process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_virtual_memory_max_bytes,
// process_start_time_seconds, process_open_fds, process_max_fds,
// process_network_receive_bytes_total, process_network_transmit_bytes_total.
// They are read from /proc, so on Linux only (where idp is deployed);
// elsewhere, or when a file cannot be read, its metrics are left out of the
// scrape.
func (r *Registry) AddProcess() {
	r.register([]string{"process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
		"process_virtual_memory_max_bytes", "process_start_time_seconds", "process_open_fds", "process_max_fds",
		"process_network_receive_bytes_total", "process_network_transmit_bytes_total"}, collectProcess)
}

func collectProcess(s *scrape) {
	one := func(name, help string, kind Kind, v float64) { s.family(name, help, kind).add("", "", v) }
	if st, ok := readStat(); ok {
		one("process_cpu_seconds_total", "User and system CPU time used, in seconds.", KindCounter, float64(st.utime+st.stime)/userHZ)
		one("process_virtual_memory_bytes", "Virtual memory size, in bytes.", KindGauge, float64(st.vsize))
		one("process_resident_memory_bytes", "Resident memory size, in bytes.", KindGauge, float64(st.rss*uint64(os.Getpagesize())))
		if boot, ok := bootTime(); ok {
			one("process_start_time_seconds", "When the process started, in seconds since 1970.", KindGauge, float64(boot)+float64(st.start)/userHZ)
		}
	}
	if fds, err := os.ReadDir(procRoot + "/self/fd"); err == nil {
		one("process_open_fds", "Open file descriptors.", KindGauge, float64(len(fds)))
	}
	if limits, err := os.ReadFile(procRoot + "/self/limits"); err == nil {
		if v, ok := softLimit(limits, "Max open files"); ok {
			one("process_max_fds", "Most file descriptors the process may open (soft limit).", KindGauge, v)
		}
		if v, ok := softLimit(limits, "Max address space"); ok {
			one("process_virtual_memory_max_bytes", "Most virtual memory the process may map, in bytes (soft limit; 2^64-1 if unlimited).", KindGauge, v)
		}
	}
	if rx, tx, ok := netDev(); ok {
		one("process_network_receive_bytes_total", "Bytes received over the network by the process's network namespace, every interface.", KindCounter, float64(rx))
		one("process_network_transmit_bytes_total", "Bytes sent over the network by the process's network namespace, every interface.", KindCounter, float64(tx))
	}
}

type procStat struct {
	utime, stime, start, vsize, rss uint64
}

// readStat reads /proc/self/stat (proc(5)).
func readStat() (procStat, bool) {
	b, err := os.ReadFile(procRoot + "/self/stat")
	if err != nil {
		return procStat{}, false
	}
	// The command name, in parentheses, may hold spaces and parentheses:
	// the fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 22 {
		return procStat{}, false
	}
	var st procStat
	for _, p := range []struct {
		field int
		dst   *uint64
	}{{14, &st.utime}, {15, &st.stime}, {22, &st.start}, {23, &st.vsize}, {24, &st.rss}} {
		v, err := strconv.ParseUint(f[p.field-3], 10, 64)
		if err != nil {
			return procStat{}, false
		}
		*p.dst = v
	}
	return st, true
}

// bootTime is /proc/stat's btime: when the system booted, in seconds since
// 1970.
func bootTime() (uint64, bool) {
	b, err := os.ReadFile(procRoot + "/stat")
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// softLimit is the soft limit of the named resource in /proc/self/limits,
// math.MaxUint64 for "unlimited".
func softLimit(limits []byte, name string) (float64, bool) {
	for line := range strings.Lines(string(limits)) {
		rest, ok := strings.CutPrefix(line, name)
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, false
		}
		if f[0] == "unlimited" {
			return math.MaxUint64, true
		}
		v, err := strconv.ParseUint(f[0], 10, 64)
		return float64(v), err == nil
	}
	return 0, false
}

// netDev sums the received and sent bytes of every interface in
// /proc/self/net/dev.
func netDev() (rx, tx uint64, ok bool) {
	b, err := os.ReadFile(procRoot + "/self/net/dev")
	if err != nil {
		return 0, 0, false
	}
	for line := range strings.Lines(string(b)) {
		_, counters, found := strings.Cut(line, ":")
		f := strings.Fields(counters)
		if !found || len(f) < 9 {
			continue // the two header lines
		}
		r, err1 := strconv.ParseUint(f[0], 10, 64)
		t, err2 := strconv.ParseUint(f[8], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, 0, false
		}
		rx, tx = rx+r, tx+t
	}
	return rx, tx, true
}
