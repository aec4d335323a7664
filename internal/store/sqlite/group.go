package sqlite

import (
	"context"
	"fmt"
)

// writeGrouped runs fn, as write does, in a transaction it may share with
// the other writeGrouped calls waiting for the writer at the same moment
// (Store.group, package group): each fn runs in a savepoint of its own,
// so that one that fails (a replayed request, a session that changed) is
// rolled back alone and told its own error while the others commit. fn's
// error is returned as is; a failed commit fails every fn it held. fn's
// statements should use their caller's context: the transaction is not
// ended by any one caller's cancellation.
//
// On SQLite the commit runs on the server's own CPU, and most of its cost
// is per transaction, not per row: taking the write lock, and writing
// each changed page to the WAL (two writes a page; about seven pages for
// a Response's replay record and audit row, however many rows share them).
func (s *Store) writeGrouped(fn func(tx *txn) error) error {
	return s.group.Do(fn, s.commitGroup)
}

// commitGroup runs fns in one transaction of the writer and returns each
// one's error: its own, or the transaction's. One fn alone is write's.
//
// A group is first run without savepoints: each savepoint is two more
// statements a visit, and visits almost never fail (a replayed request, an
// SP or session changed since it was read). When one does fail, that
// transaction is rolled back whole and the group runs again with each fn
// in a savepoint of its own, so that the failure is undone alone and the
// others commit. fns are run twice then: a fn's effects must be its
// statements in tx (RecordVisit's are).
func (s *Store) commitGroup(fns []func(tx *txn) error) []error {
	ctx := context.Background()
	if len(fns) == 1 {
		return []error{s.write(ctx, fns[0])}
	}
	if errs, again := s.runGroup(ctx, fns, false); !again {
		return errs
	}
	errs, _ := s.runGroup(ctx, fns, true)
	return errs
}

// runGroup runs fns in one transaction and commits it, each fn in a
// savepoint when savepoints is set. Without savepoints, the first fn that
// fails ends the attempt with nothing kept: again is true, and errs nil.
func (s *Store) runGroup(ctx context.Context, fns []func(tx *txn) error, savepoints bool) (errs []error, again bool) {
	errs = make([]error, len(fns))
	ran := make([]int, len(fns))
	failAll := func(err error) ([]error, bool) {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return errs, false
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return failAll(fmt.Errorf("begin SQLite transaction: %w", err))
	}
	defer tx.prepareMissed(ctx)
	defer tx.Rollback() // nothing of the group is kept unless committed (a panic too)
	for i, fn := range fns {
		if !savepoints {
			if ran[i], errs[i] = tx.run(fn); errs[i] != nil {
				return nil, true
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, `SAVEPOINT visit`); err != nil {
			return failAll(fmt.Errorf("begin SQLite savepoint: %w", err))
		}
		queued := len(tx.audit)
		if ran[i], errs[i] = tx.run(fn); errs[i] != nil {
			tx.audit = tx.audit[:queued] // and its events
			// Undo fn's writes alone. Should SQLite have ended the whole
			// transaction (it does on some I/O errors), the savepoint is
			// gone with every write of the group: each is failed.
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO visit`); err != nil {
				return failAll(fmt.Errorf("roll back one write of a group: %w", err))
			}
		}
		if _, err := tx.ExecContext(ctx, `RELEASE visit`); err != nil {
			return failAll(fmt.Errorf("release SQLite savepoint: %w", err))
		}
	}
	if err := tx.flushAudit(ctx); err != nil {
		return failAll(err)
	}
	if err := tx.Commit(); err != nil {
		return failAll(fmt.Errorf("commit SQLite transaction: %w", err))
	}
	if s.committed != nil {
		for i, err := range errs {
			if err == nil {
				s.committed(ran[i])
			}
		}
	}
	return errs, false
}

// run runs fn in t and returns the statements it ran and its error.
func (t *txn) run(fn func(tx *txn) error) (int, error) {
	before := t.ran
	err := fn(t)
	return t.ran - before, err
}
