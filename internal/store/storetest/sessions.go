package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/store"
)

// newSession is a session of userID created at t0+minutes, expiring 8h
// later.
func newSession(id, userID string, minutes int) store.Session {
	created := t0.Add(time.Duration(minutes) * time.Minute)
	return store.Session{
		ID:           id,
		UserID:       userID,
		Index:        "_idx-" + id,
		AuthnInstant: created.Add(-time.Second),
		CreatedAt:    created,
		LastSeenAt:   created,
		ExpiresAt:    created.Add(8 * time.Hour),
		RemoteAddr:   "203.0.113.7",
		UserAgent:    "Mozilla/5.0 (X11; Linux x86_64)",
	}
}

func sessionAsStored(s store.Session) store.Session {
	for _, t := range []*time.Time{&s.AuthnInstant, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt, &s.VerifiedAt} {
		*t = stored(*t)
	}
	return s
}

func createSessions(t *testing.T, s store.Store, sessions ...store.Session) {
	t.Helper()
	for _, sess := range sessions {
		noErr(t, s.CreateSession(t.Context(), sess), "CreateSession "+sess.ID)
	}
}

func sessionIDs(t *testing.T, s store.Store, userID string) []string {
	t.Helper()
	list, err := s.ListSessions(t.Context(), userID)
	noErr(t, err, "ListSessions "+userID)
	var ids []string
	for _, sess := range list {
		ids = append(ids, sess.ID)
	}
	return ids
}

func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUser(t, s, newUser(t, "u1", "one@example.com"))
	createUser(t, s, newUser(t, "u2", "two@example.com"))
	s1, s2, s3, other := newSession("s1", "u1", 0), newSession("s2", "u1", 2), newSession("s3", "u1", 1), newSession("o1", "u2", 5)
	createSessions(t, s, s1, s2, s3, other)

	got, err := s.GetSession(ctx, "s1")
	noErr(t, err, "GetSession")
	same(t, "GetSession", got, sessionAsStored(s1))
	wantErr(t, s.CreateSession(ctx, newSession("s1", "u2", 9)), store.ErrConflict, "CreateSession with a taken ID")
	_, err = s.GetSession(ctx, "nope")
	wantErr(t, err, store.ErrNotFound, "GetSession")

	same(t, "ListSessions (newest first)", sessionIDs(t, s, "u1"), []string{"s2", "s3", "s1"})
	same(t, "ListSessions of another user", sessionIDs(t, s, "u2"), []string{"o1"})
	same(t, "ListSessions of a user without sessions", sessionIDs(t, s, "nobody"), nil)
	list, err := s.ListSessions(ctx, "u1")
	noErr(t, err, "ListSessions")
	same(t, "ListSessions records", list, []store.Session{sessionAsStored(s2), sessionAsStored(s3), sessionAsStored(s1)})

	seen := t0.Add(3*time.Hour + 17*time.Nanosecond)
	noErr(t, s.TouchSession(ctx, "s1", seen), "TouchSession")
	got, err = s.GetSession(ctx, "s1")
	noErr(t, err, "GetSession after touch")
	want := sessionAsStored(s1)
	want.LastSeenAt = stored(seen)
	same(t, "session after TouchSession", got, want)
	wantErr(t, s.TouchSession(ctx, "nope", seen), store.ErrNotFound, "TouchSession")

	// A session's second factor and last verification round-trip, and
	// VerifySession moves the latter only.
	twoStep := newSession("mfa", "u2", 3)
	twoStep.SecondFactor, twoStep.VerifiedAt = "totp", twoStep.CreatedAt.Add(7*time.Nanosecond)
	createSessions(t, s, twoStep)
	got, err = s.GetSession(ctx, "mfa")
	noErr(t, err, "GetSession of a two-step session")
	same(t, "two-step session", got, sessionAsStored(twoStep))
	again := t0.Add(4*time.Hour + 9*time.Nanosecond)
	noErr(t, s.VerifySession(ctx, "mfa", again), "VerifySession")
	got, err = s.GetSession(ctx, "mfa")
	noErr(t, err, "GetSession after VerifySession")
	want = sessionAsStored(twoStep)
	want.VerifiedAt = stored(again)
	same(t, "session after VerifySession", got, want)
	wantErr(t, s.VerifySession(ctx, "nope", again), store.ErrNotFound, "VerifySession")
	got, err = s.GetSession(ctx, "s1")
	noErr(t, err, "GetSession of a password-only session")
	if got.SecondFactor != "" || !got.VerifiedAt.IsZero() {
		t.Errorf("password-only session: SecondFactor %q, VerifiedAt %v; want none", got.SecondFactor, got.VerifiedAt)
	}

	// An expired session is still returned: the caller decides.
	expired := newSession("old", "u2", 0)
	expired.ExpiresAt = tPast
	createSessions(t, s, expired)
	got, err = s.GetSession(ctx, "old")
	noErr(t, err, "GetSession of an expired session")
	same(t, "expired session", got, sessionAsStored(expired))
}

func testSessionsDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUser(t, s, newUser(t, "u1", "one@example.com"))
	createUser(t, s, newUser(t, "u2", "two@example.com"))
	createUser(t, s, newUser(t, "u3", "three@example.com"))
	var all []store.Session
	for i := range 4 {
		all = append(all, newSession(id("a", i), "u1", i), newSession(id("b", i), "u2", i))
	}
	all = append(all, newSession("c", "u3", 0))
	createSessions(t, s, all...)

	noErr(t, s.DeleteSession(ctx, "a-00"), "DeleteSession")
	_, err := s.GetSession(ctx, "a-00")
	wantErr(t, err, store.ErrNotFound, "GetSession after DeleteSession")
	wantErr(t, s.DeleteSession(ctx, "a-00"), store.ErrNotFound, "DeleteSession twice")

	// DeleteOtherSessions keeps one session of the user and no other user's.
	n, err := s.DeleteOtherSessions(ctx, "u1", "a-02")
	noErr(t, err, "DeleteOtherSessions")
	same(t, "DeleteOtherSessions count", n, 2) // a-01 and a-03
	same(t, "sessions of u1 after DeleteOtherSessions", sessionIDs(t, s, "u1"), []string{"a-02"})
	same(t, "sessions of u2 untouched by DeleteOtherSessions", sessionIDs(t, s, "u2"), []string{"b-03", "b-02", "b-01", "b-00"})
	n, err = s.DeleteOtherSessions(ctx, "u1", "a-02")
	noErr(t, err, "DeleteOtherSessions again")
	same(t, "DeleteOtherSessions count when none", n, 0)

	n, err = s.DeleteUserSessions(ctx, "u1")
	noErr(t, err, "DeleteUserSessions")
	same(t, "DeleteUserSessions count", n, 1)
	same(t, "sessions of u1 after DeleteUserSessions", sessionIDs(t, s, "u1"), nil)
	same(t, "sessions of u2 untouched", sessionIDs(t, s, "u2"), []string{"b-03", "b-02", "b-01", "b-00"})
	n, err = s.DeleteUserSessions(ctx, "u1")
	noErr(t, err, "DeleteUserSessions again")
	same(t, "DeleteUserSessions count when none", n, 0)

	// b-i expires at t0+i min+8h; ExpiresAt <= now is expired.
	now := t0.Add(time.Minute + 8*time.Hour)
	n, err = s.DeleteExpiredSessions(ctx, now)
	noErr(t, err, "DeleteExpiredSessions")
	same(t, fmt.Sprintf("DeleteExpiredSessions(%v) count", now), n, 3) // b-00, b-01 and c
	same(t, "sessions of u2 after DeleteExpiredSessions", sessionIDs(t, s, "u2"), []string{"b-03", "b-02"})
	n, err = s.DeleteExpiredSessions(ctx, now)
	noErr(t, err, "DeleteExpiredSessions again")
	same(t, "DeleteExpiredSessions count when none", n, 0)

	// Deleting a user deletes its sessions.
	noErr(t, s.DeleteUser(ctx, "u2"), "DeleteUser")
	_, err = s.GetSession(ctx, "b-03")
	wantErr(t, err, store.ErrNotFound, "GetSession of a deleted user's session")
	createUser(t, s, newUser(t, "u2", "two@example.com"))
	same(t, "sessions of a recreated user", sessionIDs(t, s, "u2"), nil)
}
