package main

import (
	"context"
	"runtime/debug"
	"time"

	"github.com/flexidp/flexidp/internal/users"
)

// memoryReturner gives the memory of finished password hashes back to the
// operating system once hashing is idle. Each argon2id verification
// allocates 19 MiB afresh; after a burst of sign-ins the garbage collector
// keeps the freed pages for reuse, and the runtime returns them only
// slowly (no collection runs while the server is idle), so the resident
// memory would stay near the burst's peak for minutes. A check every few
// seconds that finds hashes finished since the last one and none running
// or waiting runs debug.FreeOSMemory (one collection, then the free pages
// returned): resident memory goes back toward idle a few seconds after
// the burst, and never during one. The sign-in time floor's calibration
// (hashes of up to 64 MiB, in the background after start) asks for a
// check as soon as it ends (checkNow), so that its memory does not wait
// for the next tick.
type memoryReturner struct {
	done func() int64 // hashes finished so far
	busy func() bool  // a hash is running or waiting
	free func()
	seen int64
	now  chan struct{} // a check asked for before the next tick
}

func newMemoryReturner(h *users.Hasher) *memoryReturner {
	return &memoryReturner{done: h.Done, busy: func() bool { return h.SlotsInUse() > 0 || h.QueueDepth() > 0 },
		free: debug.FreeOSMemory, now: make(chan struct{}, 1)}
}

// checkNow asks run for a check at once rather than at the next tick;
// it never blocks.
func (m *memoryReturner) checkNow() {
	select {
	case m.now <- struct{}{}:
	default: // a check is already asked for
	}
}

// check frees memory when hashes finished since the last check and none
// is running now; it reports whether it did.
func (m *memoryReturner) check() bool {
	if m.busy() {
		return false
	}
	n := m.done()
	if n == m.seen {
		return false
	}
	m.seen = n
	m.free()
	return true
}

// run checks at every tick, and when checkNow asks, until ctx ends.
func (m *memoryReturner) run(ctx context.Context, ticks <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			m.check()
		case <-m.now:
			m.check()
		}
	}
}
