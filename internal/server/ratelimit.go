package server

import (
	"sync"
	"time"
)

// limiter throttles failed sign-ins per key (client address, account):
// after freeFailures failures, each further attempt must wait an
// exponentially growing delay, capped at maxDelay. Failures are forgotten
// after window without one.
type limiter struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*failures
}

type failures struct {
	count int
	last  time.Time
}

const (
	freeFailures = 5
	baseDelay    = time.Second
	maxDelay     = 15 * time.Minute
	window       = time.Hour
)

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, m: map[string]*failures{}}
}

// wait returns how long key must still wait before its next attempt.
func (l *limiter) wait(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.m[key]
	if f == nil || f.count < freeFailures {
		return 0
	}
	now := l.now()
	if now.Sub(f.last) > window {
		delete(l.m, key)
		return 0
	}
	d := baseDelay << min(f.count-freeFailures, 20)
	if d > maxDelay {
		d = maxDelay
	}
	if until := f.last.Add(d); now.Before(until) {
		return until.Sub(now)
	}
	return 0
}

func (l *limiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f := l.m[key]
	if f == nil || now.Sub(f.last) > window {
		f = &failures{}
		l.m[key] = f
	}
	f.count++
	f.last = now
	if len(l.m) > 100000 { // bound memory under a distributed attack
		for k, v := range l.m {
			if now.Sub(v.last) > window {
				delete(l.m, k)
			}
		}
	}
}

func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, key)
}
