package main

import (
	"context"
	"testing"
	"time"
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
