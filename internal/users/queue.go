package users

import (
	"context"
	"sync"
	"time"
)

// slotQueue is the Hasher's budget of slots and the callers waiting for
// them, served oldest first: by the time each first asked for a hash
// (WithQueuedSince, else when it came), then in the order they came. A
// caller may need several slots; the first in order that does not fit
// keeps those behind it waiting (as semaphore.Weighted does), so a hash
// that needs the whole budget is not starved by smaller ones. It also
// keeps the times of the callers announced with Hasher.Expect, so that the
// queue's estimates count only the callers ahead of a given one.
// The zero value has no slots.
type slotQueue struct {
	mu      sync.Mutex
	free    int64
	seq     uint64
	waiters []*slotWaiter // in the order they are served
	// announced are the times of the callers announced and not done, by
	// their id.
	announced map[uint64]time.Time
}

type slotWaiter struct {
	n     int64
	since time.Time
	seq   uint64
	ready chan struct{} // closed when its slots are granted
}

// before reports whether w is served before a caller that asked at since
// and comes now (after every waiter of the same time).
func (w *slotWaiter) before(since time.Time) bool { return !w.since.After(since) }

// tryAcquire takes n slots for a caller that asked at since if they are
// free and no waiter comes before it.
func (q *slotQueue) tryAcquire(n int64, since time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.takeLocked(n, since)
}

func (q *slotQueue) takeLocked(n int64, since time.Time) bool {
	if q.free >= n && (len(q.waiters) == 0 || !q.waiters[0].before(since)) {
		q.free -= n
		return true
	}
	return false
}

// acquire takes n slots for a caller that asked at since, waiting for
// them in its turn; when ctx is done first it leaves the queue and returns
// ctx's error.
func (q *slotQueue) acquire(ctx context.Context, n int64, since time.Time) error {
	q.mu.Lock()
	if q.takeLocked(n, since) {
		q.mu.Unlock()
		return nil
	}
	q.seq++
	w := &slotWaiter{n: n, since: since, seq: q.seq, ready: make(chan struct{})}
	i := len(q.waiters)
	for i > 0 && w.since.Before(q.waiters[i-1].since) {
		i--
	}
	q.waiters = append(q.waiters, nil)
	copy(q.waiters[i+1:], q.waiters[i:])
	q.waiters[i] = w
	q.grantLocked() // the free slots may now fit the first in order
	q.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	select {
	case <-w.ready:
		// Granted as ctx ended: give the slots back.
		q.free += n
	default:
		for j, o := range q.waiters {
			if o == w {
				q.waiters = append(q.waiters[:j], q.waiters[j+1:]...)
				break
			}
		}
	}
	q.grantLocked() // the waiter it was in front of may fit now
	return ctx.Err()
}

// release gives back n slots and serves the waiters they fit.
func (q *slotQueue) release(n int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.free += n
	q.grantLocked()
}

// grantLocked serves the waiters in order while the first fits.
func (q *slotQueue) grantLocked() {
	for len(q.waiters) > 0 && q.waiters[0].n <= q.free {
		w := q.waiters[0]
		q.free -= w.n
		q.waiters[0] = nil
		q.waiters = q.waiters[1:]
		close(w.ready)
	}
}

// announce records a caller announced at since; leave forgets it.
func (q *slotQueue) announce(since time.Time) uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.announced == nil {
		q.announced = map[uint64]time.Time{}
	}
	q.seq++
	q.announced[q.seq] = since
	return q.seq
}

func (q *slotQueue) leave(id uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.announced, id)
}

// after counts the waiters and the announced callers that asked after
// since: those a caller that asked at since goes before.
func (q *slotQueue) after(since time.Time) (waiting, announced int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, w := range q.waiters {
		if w.since.After(since) {
			waiting++
		}
	}
	for _, t := range q.announced {
		if t.After(since) {
			announced++
		}
	}
	return waiting, announced
}
