//go:build unix

package saml_test

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user and system, every thread) the test
// process has used: on a shared machine it measures a benchmark's own
// work, where ns/op measures also the other jobs' share of the cores.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
