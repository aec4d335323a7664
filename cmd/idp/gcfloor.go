package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// gcFloor keeps the collector from running while the heap is small: an
// SSO Response allocates about 55 KB that is garbage at once, and the
// live heap of a serving replica is a few MiB, so with Go's default
// (GOGC 100: collect when the heap has grown by the live heap) a server
// under SSO load collected about four times a second, each time scanning
// every goroutine's stack (the collector's worker was 1.3 % of the
// server's CPU, docs/performance.md). After each collection gcFloor sets
// GOGC to the smallest of 100, 200, 400 and 800 that lets the heap reach
// floor before the next one. A password hash's 19 MiB is garbage too:
// when the live heap is large (hashes running) GOGC is 100, as before, so
// a burst of sign-ins does not grow the heap further than it did (a fixed
// GOGC of 300 doubled the burst's RSS peak). The memory limit (tuneGC)
// still bounds the heap whatever GOGC is.
type gcFloor struct {
	floor uint64

	mu      sync.Mutex
	stopped bool
	percent int // the GOGC set last
	prev    int // GOGC before the floor, restored by stop
}

// maxGCPercent is the largest GOGC gcFloor sets.
const maxGCPercent = 800

// gcPercentFor is the GOGC that lets a heap whose live part is live grow
// to floor before the next collection: 100, 200, 400 or 800.
func gcPercentFor(live, floor uint64) int {
	p := 100
	for p < maxGCPercent && live+live*uint64(p)/100 < floor {
		p *= 2
	}
	return p
}

// startGCFloor starts keeping the heap's goal at floor bytes or more
// (gcFloor); stop ends it and sets GOGC back to what it was. GOGC is the
// process's: servers started in one process (tests) share one floor, the
// first one's, and the last stop ends it.
func startGCFloor(floor uint64) (stop func()) {
	floors.mu.Lock()
	defer floors.mu.Unlock()
	if floors.n == 0 {
		floors.f = &gcFloor{floor: floor, percent: 100}
		floors.f.prev = debug.SetGCPercent(100)
		floors.f.arm()
	}
	floors.n++
	var once sync.Once
	return func() {
		once.Do(func() {
			floors.mu.Lock()
			defer floors.mu.Unlock()
			if floors.n--; floors.n == 0 {
				floors.f.stop()
				floors.f = nil
			}
		})
	}
}

// floors is the process's gcFloor and how many servers use it.
var floors struct {
	mu sync.Mutex
	n  int
	f  *gcFloor
}

// gcSentinel is an object nothing refers to: its finalizer runs after the
// collection that found it, once per collection (arm).
type gcSentinel struct{ _ [16]byte } // not a tiny allocation: finalizers need an object of its own

// arm sets a finalizer that adjusts GOGC after the next collection and
// arms again.
func (f *gcFloor) arm() {
	runtime.SetFinalizer(new(gcSentinel), func(*gcSentinel) {
		if f.adjust(liveHeap()) {
			f.arm()
		}
	})
}

// adjust sets GOGC for a live heap of live bytes; false once stopped.
func (f *gcFloor) adjust(live uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return false
	}
	if p := gcPercentFor(live, f.floor); p != f.percent {
		debug.SetGCPercent(p)
		f.percent = p
	}
	return true
}

func (f *gcFloor) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.stopped {
		f.stopped = true
		debug.SetGCPercent(f.prev)
	}
}

// liveHeap is the heap the last collection found live, in bytes.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
