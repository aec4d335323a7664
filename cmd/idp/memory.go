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
// the burst, and never during one.
type memoryReturner struct {
	done func() int64 // hashes finished so far
	busy func() bool  // a hash is running or waiting
	free func()
	seen int64
}

func newMemoryReturner(h *users.Hasher) *memoryReturner {
	return &memoryReturner{done: h.Done, busy: func() bool { return h.SlotsInUse() > 0 || h.QueueDepth() > 0 },
		free: debug.FreeOSMemory}
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

// run checks at every tick until ctx ends.
func (m *memoryReturner) run(ctx context.Context, ticks <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			m.check()
		}
	}
}
