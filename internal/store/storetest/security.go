package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/store"
)

func testThrottles(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetThrottle(ctx, "acct:a@example.com")
	wantErr(t, err, store.ErrNotFound, "GetThrottle of an unknown key")
	wantErr(t, s.DeleteThrottle(ctx, "acct:a@example.com"), store.ErrNotFound, "DeleteThrottle of an unknown key")

	var seen store.Throttle
	got, err := s.UpdateThrottle(ctx, "acct:a@example.com", func(th store.Throttle) (store.Throttle, error) {
		seen = th
		th.Failures++
		th.LastFailure = t0
		th.Key = "ignored"
		return th, nil
	})
	noErr(t, err, "UpdateThrottle of a new key")
	same(t, "the updater's view of a new key", seen, store.Throttle{Key: "acct:a@example.com"})
	want := store.Throttle{Key: "acct:a@example.com", Failures: 1, LastFailure: stored(t0)}
	same(t, "UpdateThrottle result", got, want)
	got, err = s.GetThrottle(ctx, "acct:a@example.com")
	noErr(t, err, "GetThrottle")
	same(t, "GetThrottle", got, want)

	lock := t0.Add(15 * time.Minute)
	got, err = s.UpdateThrottle(ctx, "acct:a@example.com", func(th store.Throttle) (store.Throttle, error) {
		th.Failures++
		th.LockedUntil = lock
		return th, nil
	})
	noErr(t, err, "UpdateThrottle")
	want = store.Throttle{Key: "acct:a@example.com", Failures: 2, LastFailure: stored(t0), LockedUntil: stored(lock)}
	same(t, "UpdateThrottle of an existing key", got, want)

	errRefused := errors.New("refused")
	if _, err := s.UpdateThrottle(ctx, "acct:a@example.com", func(th store.Throttle) (store.Throttle, error) {
		th.Failures = 99
		return th, errRefused
	}); err != errRefused {
		t.Fatalf("UpdateThrottle with a failing updater: got %v, want the updater's error as is", err)
	}
	got, err = s.GetThrottle(ctx, "acct:a@example.com")
	noErr(t, err, "GetThrottle")
	same(t, "throttle after a refused update", got, want)

	// Stale records go; a recent failure or a lock in force keeps one.
	_, err = s.UpdateThrottle(ctx, "ip:203.0.113.9", func(th store.Throttle) (store.Throttle, error) {
		th.Failures, th.LastFailure = 3, t0.Add(-2*time.Hour)
		return th, nil
	})
	noErr(t, err, "UpdateThrottle")
	_, err = s.UpdateThrottle(ctx, "ip:203.0.113.10", func(th store.Throttle) (store.Throttle, error) {
		th.Failures, th.LastFailure = 3, t0.Add(10*time.Minute)
		return th, nil
	})
	noErr(t, err, "UpdateThrottle")
	n, err := s.DeleteStaleThrottles(ctx, t0.Add(time.Minute))
	noErr(t, err, "DeleteStaleThrottles")
	same(t, "stale throttles deleted", n, 1)
	_, err = s.GetThrottle(ctx, "ip:203.0.113.9")
	wantErr(t, err, store.ErrNotFound, "GetThrottle of a stale key")
	for _, k := range []string{"acct:a@example.com", "ip:203.0.113.10"} {
		_, err = s.GetThrottle(ctx, k)
		noErr(t, err, "GetThrottle of a kept key "+k)
	}

	noErr(t, s.DeleteThrottle(ctx, "acct:a@example.com"), "DeleteThrottle")
	_, err = s.GetThrottle(ctx, "acct:a@example.com")
	wantErr(t, err, store.ErrNotFound, "GetThrottle after DeleteThrottle")

	// Attempts in flight are kept, and keep a record from going stale;
	// an Empty result leaves no record.
	got, err = s.UpdateThrottle(ctx, "acct:b@example.com", func(th store.Throttle) (store.Throttle, error) {
		th.InFlight, th.LastAttempt = 2, t0.Add(10*time.Minute)
		return th, nil
	})
	noErr(t, err, "UpdateThrottle of attempts in flight")
	want = store.Throttle{Key: "acct:b@example.com", InFlight: 2, LastAttempt: stored(t0.Add(10 * time.Minute))}
	same(t, "UpdateThrottle result", got, want)
	got, err = s.GetThrottle(ctx, "acct:b@example.com")
	noErr(t, err, "GetThrottle")
	same(t, "GetThrottle of attempts in flight", got, want)
	n, err = s.DeleteStaleThrottles(ctx, t0.Add(time.Minute))
	noErr(t, err, "DeleteStaleThrottles")
	same(t, "stale throttles deleted while attempts are in flight", n, 0)
	got, err = s.UpdateThrottle(ctx, "acct:b@example.com", func(th store.Throttle) (store.Throttle, error) {
		th.InFlight = 0
		return th, nil
	})
	noErr(t, err, "UpdateThrottle to an empty record")
	same(t, "UpdateThrottle result when empty", got, store.Throttle{Key: "acct:b@example.com"})
	_, err = s.GetThrottle(ctx, "acct:b@example.com")
	wantErr(t, err, store.ErrNotFound, "GetThrottle after an update left it empty")
}

// testThrottlesConcurrent checks that attempts on several replicas at once
// are all counted: the count is what guessing is limited by.
func testThrottlesConcurrent(t *testing.T, s store.Store) {
	const n = 20
	errs := parallel(t, n, func(ctx context.Context, _ int) error {
		_, err := s.UpdateThrottle(ctx, "acct:c@example.com", func(th store.Throttle) (store.Throttle, error) {
			th.Failures++
			return th, nil
		})
		return err
	})
	for i, err := range errs {
		noErr(t, err, "concurrent UpdateThrottle #"+id("", i))
	}
	got, err := s.GetThrottle(t.Context(), "acct:c@example.com")
	noErr(t, err, "GetThrottle")
	same(t, "failures counted by concurrent callers", got.Failures, n)
}

// testThrottlesUpdateDeleteRace checks that UpdateThrottle and
// DeleteThrottle on one key at once (a failure counted while a success or
// an unlock resets the key) are each atomic: an update never fails for
// want of a record, never writes into a record a delete has removed, and
// a delete finds the record or none.
func testThrottlesUpdateDeleteRace(t *testing.T, s store.Store) {
	const workers, rounds = 8, 25
	const key = "acct:race@example.com"
	errs := parallel(t, workers, func(ctx context.Context, w int) error {
		for r := range rounds {
			got, err := s.UpdateThrottle(ctx, key, func(th store.Throttle) (store.Throttle, error) {
				th.Failures++
				return th, nil
			})
			if err != nil {
				return fmt.Errorf("round %d: UpdateThrottle: %w", r, err)
			}
			// Between two deletes each worker adds at most one failure,
			// its own delete being one of them.
			if got.Failures < 1 || got.Failures > workers {
				return fmt.Errorf("round %d: UpdateThrottle stored %d failures, want 1 to %d", r, got.Failures, workers)
			}
			if err := s.DeleteThrottle(ctx, key); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("round %d: DeleteThrottle: %w", r, err)
			}
		}
		return nil
	})
	for i, err := range errs {
		noErr(t, err, "worker "+id("", i))
	}
	// Every worker ended with a delete: no record may have come back.
	_, err := s.GetThrottle(t.Context(), key)
	wantErr(t, err, store.ErrNotFound, "GetThrottle after the last delete")
}

func testAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	details := json.RawMessage(`{"attributes":["email","roles"],"assertion_id":"id-1"}`)
	events := []store.AuditEvent{
		{Time: t0, Action: "signin.failure", Actor: "Mary@Example.com", Email: "Mary@Example.com", RemoteAddr: "203.0.113.7", Reason: "bad credentials"},
		{Time: t0.Add(time.Minute), Action: "signin.success", Actor: "mary@example.com", UserID: "u1", Email: "mary@example.com", RemoteAddr: "203.0.113.7"},
		{Time: t0.Add(2 * time.Minute), Action: "saml.response", Actor: "mary@example.com", UserID: "u1", Email: "mary@example.com", SP: "flex", Details: details},
		{Time: t0.Add(3 * time.Minute), Action: "signin.successful", Actor: "bob", UserID: "u2", Email: "bob@example.com"},
		{Action: "admin.user.disable", Actor: "alice", UserID: "u2", Email: "bob@example.com",
			Details: json.RawMessage(`{"before":{"disabled":false},"after":{"disabled":true}}`)},
	}
	var stored_ []store.AuditEvent
	for i, e := range events {
		got, err := s.AppendAudit(ctx, e)
		noErr(t, err, "AppendAudit")
		if i > 0 && got.ID <= stored_[i-1].ID {
			t.Fatalf("AppendAudit IDs not increasing: %d after %d", got.ID, stored_[i-1].ID)
		}
		want := e
		want.ID = got.ID
		if e.Time.IsZero() {
			if got.Time.IsZero() || got.Time.Location() != time.UTC {
				t.Fatalf("AppendAudit did not stamp a zero Time: %v", got.Time)
			}
			want.Time = got.Time
		}
		want.Time = stored(want.Time)
		same(t, "AppendAudit result", got, want)
		stored_ = append(stored_, got)
	}
	ids := func(f store.AuditFilter) []int64 {
		t.Helper()
		list, err := s.ListAudit(ctx, f)
		noErr(t, err, "ListAudit")
		var out []int64
		for _, e := range list {
			out = append(out, e.ID)
		}
		return out
	}
	all, err := s.ListAudit(ctx, store.AuditFilter{})
	noErr(t, err, "ListAudit")
	same(t, "ListAudit (newest first)", all, []store.AuditEvent{stored_[4], stored_[3], stored_[2], stored_[1], stored_[0]})
	id := func(i int) int64 { return stored_[i].ID }
	same(t, "ListAudit by email, any case", ids(store.AuditFilter{User: "MARY@example.COM"}), []int64{id(2), id(1), id(0)})
	same(t, "ListAudit by user ID", ids(store.AuditFilter{User: "u2"}), []int64{id(4), id(3)})
	same(t, "ListAudit by action", ids(store.AuditFilter{Action: "signin.success"}), []int64{id(1)})
	same(t, "ListAudit by action prefix", ids(store.AuditFilter{Action: "signin"}), []int64{id(3), id(1), id(0)})
	same(t, "ListAudit by a partial word", ids(store.AuditFilter{Action: "sign"}), []int64(nil))
	same(t, "ListAudit since", ids(store.AuditFilter{User: "mary@example.com", Since: t0.Add(time.Minute)}), []int64{id(2), id(1)})
	same(t, "ListAudit until", ids(store.AuditFilter{Since: t0, Until: t0.Add(2 * time.Minute)}), []int64{id(1), id(0)})
	same(t, "ListAudit limit", ids(store.AuditFilter{Limit: 2}), []int64{id(4), id(3)})
	same(t, "ListAudit of nobody", ids(store.AuditFilter{User: "nobody"}), []int64(nil))
	same(t, "ListAudit by actor, any case", ids(store.AuditFilter{Actor: "MARY@example.com"}), []int64{id(2), id(1), id(0)})
	same(t, "ListAudit by actor and action", ids(store.AuditFilter{Actor: "alice", Action: "admin"}), []int64{id(4)})
	same(t, "ListAudit page after", ids(store.AuditFilter{Before: id(3), Limit: 2}), []int64{id(2), id(1)})
	same(t, "ListAudit last page", ids(store.AuditFilter{Before: id(1), Limit: 2}), []int64{id(0)})

	// CountAudit counts what ListAudit lists, whatever the limit.
	for _, f := range []store.AuditFilter{{}, {User: "MARY@example.COM"}, {Action: "signin"}, {Action: "signin.success", Since: t0},
		{Since: t0, Until: t0.Add(2 * time.Minute)}, {User: "nobody"}} {
		n, err := s.CountAudit(ctx, f)
		noErr(t, err, "CountAudit")
		same(t, fmt.Sprintf("CountAudit(%+v)", f), n, len(ids(f)))
		f.Limit = 1
		n, err = s.CountAudit(ctx, f)
		noErr(t, err, "CountAudit with a limit")
		same(t, fmt.Sprintf("CountAudit(%+v) ignores the limit", f), n, len(ids(store.AuditFilter{User: f.User, Action: f.Action, Since: f.Since, Until: f.Until})))
	}
}

func testMFA(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUser(t, s, newUser(t, "u1", "one@example.com"))
	_, err := s.GetMFA(ctx, "u1")
	wantErr(t, err, store.ErrNotFound, "GetMFA of a user without one")
	wantErr(t, s.DeleteMFA(ctx, "u1"), store.ErrNotFound, "DeleteMFA of a user without one")
	wantErr(t, s.PutMFA(ctx, store.MFA{UserID: "nobody", Secret: []byte("x")}), store.ErrNotFound, "PutMFA of a missing user")
	updateMissing(t, "UpdateMFA", s.UpdateMFA)

	pending := store.MFA{UserID: "u1", Secret: []byte("sealed-secret-1"), CreatedAt: t0, UpdatedAt: t0}
	noErr(t, s.PutMFA(ctx, pending), "PutMFA")
	got, err := s.GetMFA(ctx, "u1")
	noErr(t, err, "GetMFA")
	want := pending
	want.CreatedAt, want.UpdatedAt = stored(t0), stored(t0)
	same(t, "GetMFA of a pending enrolment", got, want)

	// Enrolling again replaces the record.
	confirmed := store.MFA{UserID: "u1", Secret: []byte("sealed-secret-2"), ConfirmedAt: t0.Add(time.Minute),
		RecoveryCodes: []string{"h1", "h2", "h3"}, CreatedAt: t0.Add(time.Minute), UpdatedAt: t0.Add(time.Minute)}
	noErr(t, s.PutMFA(ctx, confirmed), "PutMFA replacing")
	got, err = s.GetMFA(ctx, "u1")
	noErr(t, err, "GetMFA")
	want = confirmed
	want.ConfirmedAt, want.CreatedAt, want.UpdatedAt = stored(want.ConfirmedAt), stored(want.CreatedAt), stored(want.UpdatedAt)
	same(t, "GetMFA after PutMFA replaced it", got, want)
	// A confirmed factor is never replaced: another enrolment confirmed
	// later loses.
	wantErr(t, s.PutMFA(ctx, store.MFA{UserID: "u1", Secret: []byte("sealed-secret-3"), ConfirmedAt: t0.Add(2 * time.Minute)}),
		store.ErrConflict, "PutMFA over a confirmed factor")
	wantErr(t, s.PutMFA(ctx, pending), store.ErrConflict, "PutMFA of a pending factor over a confirmed one")
	got, err = s.GetMFA(ctx, "u1")
	noErr(t, err, "GetMFA")
	same(t, "GetMFA after a refused PutMFA", got, want)

	// Using a recovery code removes it, atomically.
	got, err = s.UpdateMFA(ctx, "u1", func(m store.MFA) (store.MFA, error) {
		m.RecoveryCodes = m.RecoveryCodes[1:]
		return m, nil
	})
	noErr(t, err, "UpdateMFA")
	same(t, "recovery codes after UpdateMFA", got.RecoveryCodes, []string{"h2", "h3"})
	if !got.UpdatedAt.After(want.UpdatedAt) || got.CreatedAt != want.CreatedAt {
		t.Fatalf("UpdateMFA stamps: created %v updated %v", got.CreatedAt, got.UpdatedAt)
	}
	updateRefused(t, "UpdateMFA", "u1", s.UpdateMFA, s.GetMFA, func(m *store.MFA) { m.RecoveryCodes = nil })

	noErr(t, s.DeleteMFA(ctx, "u1"), "DeleteMFA")
	_, err = s.GetMFA(ctx, "u1")
	wantErr(t, err, store.ErrNotFound, "GetMFA after DeleteMFA")

	// The second factor goes with its user.
	noErr(t, s.PutMFA(ctx, pending), "PutMFA")
	noErr(t, s.DeleteUser(ctx, "u1"), "DeleteUser")
	_, err = s.GetMFA(ctx, "u1")
	wantErr(t, err, store.ErrNotFound, "GetMFA of a deleted user")
}

func newToken(id, userID, purpose string, expires time.Time) store.Token {
	return store.Token{ID: id, UserID: userID, Purpose: purpose, CreatedAt: t0, ExpiresAt: expires}
}

func testTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUser(t, s, newUser(t, "u1", "one@example.com"))
	createUser(t, s, newUser(t, "u2", "two@example.com"))
	t1 := newToken("t1", "u1", store.TokenInvite, tFuture)
	noErr(t, s.CreateToken(ctx, t1), "CreateToken")
	noErr(t, s.CreateToken(ctx, newToken("t2", "u1", store.TokenReset, tFuture)), "CreateToken")
	noErr(t, s.CreateToken(ctx, newToken("o1", "u2", store.TokenReset, tFuture)), "CreateToken")
	wantErr(t, s.CreateToken(ctx, newToken("t1", "u2", store.TokenReset, tFuture)), store.ErrConflict, "CreateToken with a taken ID")
	wantErr(t, s.CreateToken(ctx, newToken("t9", "nobody", store.TokenReset, tFuture)), store.ErrNotFound, "CreateToken of a missing user")
	// Created last: the next CreateToken prunes it.
	noErr(t, s.CreateToken(ctx, newToken("old", "u2", store.TokenReset, tPast)), "CreateToken expired")

	want := t1
	want.CreatedAt, want.ExpiresAt = stored(t0), stored(tFuture)
	got, err := s.GetToken(ctx, "t1")
	noErr(t, err, "GetToken")
	same(t, "GetToken", got, want)
	_, err = s.GetToken(ctx, "nope")
	wantErr(t, err, store.ErrNotFound, "GetToken of a missing token")
	old, err := s.GetToken(ctx, "old")
	noErr(t, err, "GetToken of an expired token")
	same(t, "expired token", old.ExpiresAt, stored(tPast))

	_, err = s.ConsumeToken(ctx, "old", t0)
	wantErr(t, err, store.ErrNotFound, "ConsumeToken of an expired token")
	_, err = s.ConsumeToken(ctx, "t1", tFuture)
	wantErr(t, err, store.ErrNotFound, "ConsumeToken at its expiry")

	got, err = s.ConsumeToken(ctx, "t1", t0)
	noErr(t, err, "ConsumeToken")
	same(t, "ConsumeToken", got, want)
	_, err = s.ConsumeToken(ctx, "t1", t0)
	wantErr(t, err, store.ErrNotFound, "ConsumeToken a second time")
	// Using one link retires the user's other links, not other users'.
	_, err = s.GetToken(ctx, "t2")
	wantErr(t, err, store.ErrNotFound, "GetToken of the user's other token")
	_, err = s.GetToken(ctx, "o1")
	noErr(t, err, "GetToken of another user's token")

	// The user's tokens go with the user.
	noErr(t, s.DeleteUser(ctx, "u2"), "DeleteUser")
	_, err = s.GetToken(ctx, "o1")
	wantErr(t, err, store.ErrNotFound, "GetToken of a deleted user's token")
}

func testTokensConcurrentConsume(t *testing.T, s store.Store) {
	createUser(t, s, newUser(t, "u1", "one@example.com"))
	noErr(t, s.CreateToken(t.Context(), newToken("t1", "u1", store.TokenReset, tFuture)), "CreateToken")
	errs := parallel(t, 20, func(ctx context.Context, _ int) error {
		_, err := s.ConsumeToken(ctx, "t1", t0)
		if errors.Is(err, store.ErrNotFound) {
			return store.ErrConflict // oneWinner counts losers as conflicts
		}
		return err
	})
	oneWinner(t, errs, "ConsumeToken")
}
