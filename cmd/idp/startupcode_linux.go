package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// releaseStartupCode unmaps the pages of idp's own machine code from the
// process once it has started, and returns how many KiB were resident.
//
// Starting runs the init code of every package linked in and the start
// path (migrations, keys, templates), spread over the 13 MiB of code; the
// kernel maps each touched page with its neighbours (fault-around, 64 KiB),
// so about 11 MiB of code stays resident in an idle server although it
// runs about 2 MiB. The pages are the executable file's, never written:
// MADV_DONTNEED only drops them from the process (they stay in the page
// cache, clean and reclaimable), and code that runs again is mapped back
// on its first use (a minor fault). Only the executable's one r-x mapping
// is touched: its data (rw) and read-only data are left alone.
func releaseStartupCode() (kib int64) {
	exe, err := os.Executable()
	if err != nil {
		return 0
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 00400000-010ce000 r-xp 00000000 08:01 1234 /path/to/idp
		fields := strings.Fields(sc.Text())
		if len(fields) != 6 || fields[1] != "r-xp" || fields[5] != exe {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || end <= start {
			continue
		}
		kib += residentKiB(start)
		// A Go binary's code is not relocated or written: dropping the
		// pages loses nothing the file does not hold.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED); errno != 0 {
			return 0
		}
	}
	return kib
}

// residentKiB is the Rss of the mapping that starts at start, from
// /proc/self/smaps; 0 when it cannot be read.
func residentKiB(start uint64) int64 {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		if first, _, _ := strings.Cut(line, " "); isRange(first) {
			lo, _, _ := strings.Cut(first, "-")
			n, _ := strconv.ParseUint(lo, 16, 64)
			in = n == start
			continue
		}
		if v, ok := strings.CutPrefix(line, "Rss:"); in && ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// isRange reports whether s is an address range, lo-hi in hex: the first
// field of a mapping's line in /proc/self/smaps.
func isRange(s string) bool {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		return false
	}
	_, err1 := strconv.ParseUint(lo, 16, 64)
	_, err2 := strconv.ParseUint(hi, 16, 64)
	return err1 == nil && err2 == nil
}
