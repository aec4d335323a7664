package main

import (
	"os"
	"testing"
)

// TestReleaseStartupCode: the code pages that starting made resident
// are dropped from the process, and the code still runs after (its pages
// come back from the executable on use).
func TestReleaseStartupCode(t *testing.T) {
	if _, err := os.Stat("/proc/self/smaps"); err != nil {
		t.Skip("no /proc/self/smaps")
	}
	before := releaseStartupCode()
	if before <= 0 {
		t.Fatalf("releaseStartupCode found no resident code (%d KiB)", before)
	}
	// Immediately again: only the code run since is resident.
	after := releaseStartupCode()
	t.Logf("code resident: %d KiB after starting the test binary, %d KiB right after releasing it", before, after)
	if after*2 > before {
		t.Errorf("code resident after release %d KiB, before %d KiB: want it dropped", after, before)
	}
	// Code runs on: a function not run yet in this process pages in.
	if got := defaultHashConcurrency(256, 19); got < 1 {
		t.Errorf("defaultHashConcurrency = %d after the release", got)
	}
}
