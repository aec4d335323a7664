package users

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

// waitQueueDepth waits (yielding, not sleeping) until d callers wait for
// a slot of h.
func waitQueueDepth(t *testing.T, h *Hasher, d int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.QueueDepth() != d {
		if time.Now().After(deadline) {
			t.Fatalf("QueueDepth = %d, want %d", h.QueueDepth(), d)
		}
		runtime.Gosched() // wait for the goroutine to queue, not a timing assertion
	}
}

// TestHasherServesTheOldestFirst: with the only slot held and newcomers
// waiting, a caller told to come back a minute ago (WithQueuedSince) is
// not refused where a newcomer with the same deadline is (only the
// callers ahead of it count), gets the slot before the newcomers that
// queued before it, and they are served in their order after it. A
// waiter that gives up leaves the queue to the next.
func TestHasherServesTheOldestFirst(t *testing.T) {
	h := NewHasher(fastParams, 1)
	h.floor.observe(time.Second) // a hash holds the slot for a second now
	ctx := context.Background()
	if err := h.acquire(ctx); err != nil { // the hash that blocks the slot
		t.Fatal(err)
	}
	order := make(chan string, 8)
	var wg sync.WaitGroup
	queue := func(name string, ctx context.Context) {
		wg.Go(func() {
			if err := h.acquire(ctx); err != nil {
				order <- name + ": " + err.Error()
				return
			}
			order <- name
			h.release()
		})
	}
	// Three newcomers without a deadline queue, in this order.
	for i, name := range []string{"new1", "new2", "new3"} {
		queue(name, ctx)
		waitQueueDepth(t, h, int64(i+1))
	}
	// One that must be done in 2.5 s (1.5 s of waiting, less a hash)
	// would wait 4 s behind them: refused at once, after the three and
	// itself at a second each.
	soon := func() context.Context { return WithDoneBy(ctx, time.Now().Add(2500*time.Millisecond)) }
	err := h.acquire(soon())
	var busy *BusyError
	if !errors.As(err, &busy) {
		t.Fatalf("newcomer with a 2.5 s deadline: %v, want a *BusyError", err)
	}
	if want := 4 * time.Second; busy.RetryAfter != want {
		t.Errorf("newcomer's RetryAfter = %s, want %s", busy.RetryAfter, want)
	}
	// A returner with the same deadline has nobody ahead: it queues.
	queue("returner", WithQueuedSince(soon(), time.Now().Add(-time.Minute)))
	waitQueueDepth(t, h, 4)
	// One that came back even earlier, and gives up while first in line.
	gone, cancel := context.WithCancel(WithQueuedSince(ctx, time.Now().Add(-2*time.Minute)))
	queue("gone", gone)
	waitQueueDepth(t, h, 5)
	cancel()
	if got := <-order; got != "gone: "+context.Canceled.Error() {
		t.Fatalf("the cancelled waiter: %q, want it to give up", got)
	}
	waitQueueDepth(t, h, 4)
	h.release()
	wg.Wait()
	close(order)
	var got []string
	for name := range order {
		got = append(got, name)
	}
	want := []string{"returner", "new1", "new2", "new3"}
	if len(got) != len(want) {
		t.Fatalf("served %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("served %q, want %q (the oldest first)", got, want)
		}
	}
	if h.QueueDepth() != 0 || h.SlotsInUse() != 0 {
		t.Fatalf("after: queue %d, %d slots in use", h.QueueDepth(), h.SlotsInUse())
	}
}

// TestHasherExpectCountsOnlyThoseAhead: Expect refuses a newcomer when the
// callers announced would not be served in time, but admits a caller told
// to come back earlier than most of them, counting only those announced
// before it; its Retry-After, when it is refused, is their time too.
func TestHasherExpectCountsOnlyThoseAhead(t *testing.T) {
	h := NewHasher(fastParams, 2)
	h.floor.observe(time.Second) // a hash holds a slot for a second now
	now := time.Now()
	in := func(d time.Duration) context.Context {
		return WithDoneBy(context.Background(), time.Now().Add(d))
	}
	// Ten announced: four who came back (queued two minutes ago) and six
	// newcomers.
	for i := range 10 {
		ctx := in(time.Minute)
		if i < 4 {
			ctx = WithQueuedSince(ctx, now.Add(-2*time.Minute))
		}
		if _, err := h.Expect(ctx); err != nil {
			t.Fatalf("caller %d: %v, want it announced", i+1, err)
		}
	}
	for _, tc := range []struct {
		name       string
		queued     time.Duration // ago; 0 for a newcomer
		doneBy     time.Duration
		retryAfter time.Duration // 0 when admitted
	}{
		// Ten ahead and this one, two at once, a second each: 5.5 s. 7 s
		// less a hash leaves 6 s of waiting; 6 s leaves 5 s.
		{"newcomer, room for the ten ahead", 0, 7 * time.Second, 0},
		{"newcomer, no room", 0, 6 * time.Second, 5500 * time.Millisecond},
		// Queued a minute ago: the four of two minutes ago are ahead.
		{"returner, room for the four ahead", time.Minute, 4 * time.Second, 0},
		{"returner, no room for the four ahead", time.Minute, 3 * time.Second, 2500 * time.Millisecond},
		{"the first returner", 3 * time.Minute, 2 * time.Second, 0},
		{"a time in the future is now", -time.Minute, 6 * time.Second, 5500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := in(tc.doneBy)
			if tc.queued != 0 {
				ctx = WithQueuedSince(ctx, now.Add(-tc.queued))
			}
			done, err := h.Expect(ctx)
			defer done()
			var busy *BusyError
			switch {
			case tc.retryAfter == 0 && err != nil:
				t.Fatalf("Expect = %v, want admitted", err)
			case tc.retryAfter != 0 && !errors.As(err, &busy):
				t.Fatalf("Expect = %v, want a *BusyError", err)
			case tc.retryAfter != 0 && busy.RetryAfter != tc.retryAfter:
				t.Fatalf("RetryAfter = %s, want %s (those ahead and this one, two at once)", busy.RetryAfter, tc.retryAfter)
			}
		})
	}
}
