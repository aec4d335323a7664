// Package group is the stores' group commit: the writes that wait at the
// same moment are committed together, and each is told its own result.
//
// A Response's commit is a few small rows; most of its cost is per
// commit, not per row: on SQLite, taking the write lock and writing each
// changed page to the WAL; on PostgreSQL, the round trip (a write and a
// read on the socket, each a system call on the server's CPU) and the
// database's commit. When requests arrive faster than they are answered,
// they wait for each other's commits; committing them together removes
// that wait and that cost.
package group

import (
	"errors"
	"runtime"
	"sync"
)

// ErrPanicked is the error of the writes of a group whose commit panicked.
var ErrPanicked = errors.New("a write of the group commit panicked")

// Group gathers the items given to Do while another group is committed.
// Its zero value is ready to use.
//
// One of the waiting callers leads: it takes the waiting items (at most
// Max), commits them, and hands the lead to the first item that arrived
// meanwhile. Before it takes them it yields the CPU (gather), so that
// requests already running reach their commit and join it; on an idle
// server nothing else is ready and it goes on at once, so a lone write
// waits for nothing.
type Group[T any] struct {
	// Max bounds the items of one group; 0 means 64.
	Max int

	mu      sync.Mutex
	queue   []*call[T]
	leading bool
	hooks   Hooks
}

// Hooks let a test see and shape the groups.
type Hooks struct {
	// Hold, when set, is waited for before the leader takes the items,
	// so that a test can gather a group of the size it wants.
	Hold chan struct{}
	// Size, when set, is told the size of each group.
	Size func(n int)
}

// Tester is a Group as a test sees it, whatever its items.
type Tester interface {
	SetHooks(Hooks)
	Waiting() int
}

// SetHooks sets the test hooks for the groups that start after it.
func (g *Group[T]) SetHooks(h Hooks) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hooks = h
}

type call[T any] struct {
	item T
	err  error
	wake chan bool // true: lead the next group; false: done, err is set
}

// Do commits item, with the items of the other callers waiting at the
// same moment, by one call of commit, and returns item's error. commit
// gets the items in the order they arrived and returns one error per
// item (nil: committed). It runs on one caller's goroutine at a time.
// Should commit panic, the panic reaches the caller that led the group
// and every other item of it fails with ErrPanicked.
func (g *Group[T]) Do(item T, commit func(items []T) []error) error {
	c := &call[T]{item: item, wake: make(chan bool, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	lead := !g.leading
	g.leading = true
	hooks := g.hooks
	g.mu.Unlock()
	if !lead && !<-c.wake {
		return c.err
	}
	g.gather()
	if hooks.Hold != nil {
		<-hooks.Hold
	}

	g.mu.Lock()
	limit := g.Max
	if limit <= 0 {
		limit = 64
	}
	n := min(len(g.queue), limit)
	batch := g.queue[:n:n]
	g.queue = g.queue[n:]
	var next *call[T]
	if len(g.queue) > 0 {
		next = g.queue[0]
	} else {
		g.leading = false
		g.queue = nil
	}
	g.mu.Unlock()
	if hooks.Size != nil {
		hooks.Size(len(batch))
	}

	// Deferred, so that a panic in commit still tells the others (and
	// hands the lead on) rather than leaving them waiting for ever.
	committed := false
	defer func() {
		for _, o := range batch {
			if !committed {
				o.err = ErrPanicked
			}
			if o != c {
				o.wake <- false
			}
		}
		if next != nil {
			next.wake <- true
		}
	}()
	items := make([]T, len(batch))
	for i, o := range batch {
		items[i] = o.item
	}
	errs := commit(items)
	for i, o := range batch {
		if i < len(errs) {
			o.err = errs[i]
		} else {
			o.err = errors.New("group commit: no result for a write")
		}
	}
	committed = true
	return c.err
}

// maxYields bounds the times a leader yields to let requests join its
// group (gather).
const maxYields = 8

// gather yields the CPU (runtime.Gosched) while each yield brings more
// items to the group, at most maxYields times: a request that was
// running when the leader came usually has more to do (its signatures)
// before it reaches its commit, so one yield gathers only those that were
// about to. On an idle server the first yield brings nothing and the
// leader goes on at once.
func (g *Group[T]) gather() {
	for range maxYields {
		before := g.Waiting()
		runtime.Gosched()
		if g.Waiting() == before {
			return
		}
	}
}

// Waiting is the number of items given to Do and not yet taken into a
// group.
func (g *Group[T]) Waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}
