package sqlite

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// maxGroup bounds the writes one group commit carries.
const maxGroup = 64

// group is the writer's group commit for RecordVisit, the write every
// Response makes. On SQLite the commit runs on the server's own CPU, and
// most of its cost is per transaction, not per row: taking the write lock,
// and writing each changed page to the WAL (two writes a page, about
// seven pages for a Response's replay record and audit row, whatever the
// number of rows that share them). So the visits that wait for the writer
// at the same moment commit as one transaction, each in a savepoint of its
// own: a visit that fails (a replayed request, a session that changed) is
// rolled back alone and told its own error, the others commit. A visit is
// answered only once the transaction holding it has committed, as before;
// a failed commit fails every visit it held.
//
// One of the waiting writers leads: it takes the waiting visits, commits
// them, and hands the lead to the first visit that arrived meanwhile.
// Before it takes them it yields the CPU once (runtime.Gosched), so that
// requests already running reach their commit and join it; on an idle
// server nothing else is ready and it goes on at once.
type group struct {
	mu      sync.Mutex
	queue   []*member
	leading bool
	// hold, when set (by tests), is waited for before the leader takes
	// the queue, so a test can gather a group of the size it wants.
	hold chan struct{}
	// size, when set (by tests), is told the size of each group.
	size func(n int)
}

// member is one write waiting in a group.
type member struct {
	fn   func(tx *txn) error
	err  error
	ran  int
	wake chan bool // true: lead the next group; false: done, err is set
}

// writeGrouped runs fn, as write does, in a transaction it may share with
// other writeGrouped calls (group): fn's statements are rolled back alone
// when it returns an error, and fn's error is returned as is. fn's
// statements should use their caller's context; the transaction itself
// is not ended by any one caller's cancellation.
func (s *Store) writeGrouped(fn func(tx *txn) error) error {
	g := &s.group
	m := &member{fn: fn, wake: make(chan bool, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, m)
	lead := !g.leading
	g.leading = true
	hold := g.hold
	g.mu.Unlock()
	if !lead && !<-m.wake {
		return m.err
	}
	runtime.Gosched()
	if hold != nil {
		<-hold
	}

	g.mu.Lock()
	n := min(len(g.queue), maxGroup)
	batch := g.queue[:n:n]
	g.queue = g.queue[n:]
	var next *member
	if len(g.queue) > 0 {
		next = g.queue[0]
	} else {
		g.leading = false
		g.queue = nil
	}
	g.mu.Unlock()

	if g.size != nil {
		g.size(len(batch))
	}
	// Deferred, so that a panic in one write still tells the others (and
	// hands the lead on) rather than leaving them waiting for ever.
	defer func() {
		for _, o := range batch {
			if o != m {
				o.wake <- false
			}
		}
		if next != nil {
			next.wake <- true
		}
	}()
	s.commitGroup(batch)
	return m.err
}

// commitGroup runs the members' writes in one transaction of the writer
// and sets each member's err: its own error, or the transaction's.
func (s *Store) commitGroup(batch []*member) {
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		failAll(batch, fmt.Errorf("begin SQLite transaction: %w", err))
		return
	}
	defer tx.prepareMissed(ctx)
	ended := false
	abort := func(err error) {
		ended = true
		_ = tx.Rollback()
		failAll(batch, err)
	}
	defer func() {
		if !ended { // a write panicked: nothing of the group is kept
			abort(errors.New("a write of the group commit panicked"))
		}
	}()
	alone := len(batch) == 1
	for _, o := range batch {
		if alone {
			o.ran, o.err = tx.run(o.fn)
			if o.err != nil {
				ended = true
				_ = tx.Rollback()
				return
			}
			break
		}
		if _, err := tx.ExecContext(ctx, `SAVEPOINT visit`); err != nil {
			abort(fmt.Errorf("begin SQLite savepoint: %w", err))
			return
		}
		o.ran, o.err = tx.run(o.fn)
		if o.err != nil {
			// Undo o's writes alone. Should SQLite have ended the whole
			// transaction (it does on some I/O errors), the savepoint is
			// gone and so is every write of the group: each is failed.
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO visit`); err != nil {
				abort(fmt.Errorf("roll back one write of a group: %w", err))
				return
			}
		}
		if _, err := tx.ExecContext(ctx, `RELEASE visit`); err != nil {
			abort(fmt.Errorf("release SQLite savepoint: %w", err))
			return
		}
	}
	ended = true
	if err := tx.Commit(); err != nil {
		failAll(batch, fmt.Errorf("commit SQLite transaction: %w", err))
		return
	}
	if s.committed != nil {
		for _, o := range batch {
			if o.err == nil {
				s.committed(o.ran)
			}
		}
	}
}

// failAll sets err as the error of each member that has none of its own.
func failAll(batch []*member, err error) {
	for _, o := range batch {
		if o.err == nil {
			o.err = err
		}
	}
}

// run runs fn in t and returns the statements it ran and its error.
func (t *txn) run(fn func(tx *txn) error) (int, error) {
	before := t.ran
	err := fn(t)
	return t.ran - before, err
}
