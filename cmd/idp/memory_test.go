package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/users"
)

// TestMemoryReturner: memory goes back to the operating system once after
// hashes finished and none runs, never during hashing, and not again
// until more hashes finished.
func TestMemoryReturner(t *testing.T) {
	var done int64
	busy := false
	frees := 0
	m := &memoryReturner{done: func() int64 { return done }, busy: func() bool { return busy }, free: func() { frees++ }}
	for _, step := range []struct {
		name     string
		finished int64
		busy     bool
		want     bool
	}{
		{"idle from the start", 0, false, false},
		{"hashing", 1, true, false},
		{"still hashing", 30, true, false},
		{"the burst is over", 0, false, true},
		{"idle since", 0, false, false},
		{"one more sign-in", 1, false, true},
		{"a hash running, others finished", 2, true, false},
		{"done again", 0, false, true},
	} {
		done += step.finished
		busy = step.busy
		if got := m.check(); got != step.want {
			t.Errorf("%s: freed %v, want %v", step.name, got, step.want)
		}
	}
	if frees != 3 {
		t.Errorf("%d frees, want 3", frees)
	}

	// run checks at every tick and stops with its context.
	ctx, cancel := context.WithCancel(context.Background())
	ticks := make(chan time.Time)
	stopped := make(chan struct{})
	go func() { m.run(ctx, ticks); close(stopped) }()
	done++
	ticks <- time.Time{}
	ticks <- time.Time{} // the first check is done once the second tick is taken
	cancel()
	<-stopped
	if frees != 4 {
		t.Errorf("%d frees after run, want 4", frees)
	}
}

// TestMemoryReturnerFreesWhenTheFloorIsMeasured: the sign-in time floor's
// calibration (hashes of up to 64 MiB in the background after start) has
// its memory returned as soon as it ends, not at the next tick (here
// there is none).
func TestMemoryReturnerFreesWhenTheFloorIsMeasured(t *testing.T) {
	if testing.Short() {
		t.Skip("calibrates on hashes at the limits (bcrypt cost 12, argon2id 64 MiB x 4)")
	}
	h := users.NewHasher(users.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 4)
	m := newMemoryReturner(h)
	freed := make(chan struct{})
	m.free = func() { close(freed) }
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go m.run(ctx, nil) // no ticks
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := startSigninFloor(ctx, log, h, "auto", m.checkNow); err != nil {
		t.Fatal(err)
	}
	select {
	case <-freed:
	case <-time.After(2 * time.Minute): // a bound on a calibration of a few seconds, not a synchronisation
		t.Fatal("no memory returned within 2 minutes of starting a calibration of a few seconds: its end did not ask the returner")
	}
	if h.TimeFloor() <= 0 {
		t.Errorf("memory returned before the floor was measured (floor %v)", h.TimeFloor())
	}
}
