// Package storetest is the conformance suite of store.Store. Every backend
// runs it from its own tests, against a real database:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return newTestStore(t) })
//	}
//
// A backend is done when the suite passes. The cases are written only in
// terms of the contract documented on store.Store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/store"
)

// Run runs the suite. newStore must return a new, empty, migrated store
// that no other test uses, and close it when t ends (t.Cleanup). The
// subtests run in parallel, each with its own store.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	cases := []struct {
		name string
		test func(t *testing.T, s store.Store)
	}{
		{"UserCRUD", testUserCRUD},
		{"UserTimestamps", testUserTimestamps},
		{"UserEmailCaseInsensitive", testUserEmailCaseInsensitive},
		{"UserConflicts", testUserConflicts},
		{"UserNotFound", testUserNotFound},
		{"UserAttributes", testUserAttributes},
		{"UpdateUserAtomic", testUpdateUserAtomic},
		{"UpdateUserUpdaterError", testUpdateUserUpdaterError},
		{"ListUsers", testListUsers},
		{"UserSearch", testUserSearch},
		{"UserPaging", testUserPaging},
		{"ConcurrentCreateUsers", testConcurrentCreateUsers},
		{"LastOwner", testLastOwner},
		{"LastOwnerRace", func(t *testing.T, s store.Store) { LastOwnerRace(t, s) }},
		{"ImportUsers", testImportUsers},
		{"ImportUsersAllOrNothing", testImportUsersAllOrNothing},
		{"ServiceProviderCRUD", testServiceProviderCRUD},
		{"ServiceProviderConflicts", testServiceProviderConflicts},
		{"ServiceProviderNotFound", testServiceProviderNotFound},
		{"UpdateServiceProviderUpdaterError", testUpdateServiceProviderUpdaterError},
		{"Assignments", testAssignments},
		{"AssignmentsCascade", testAssignmentsCascade},
		{"GroupCRUD", testGroupCRUD},
		{"GroupConflicts", testGroupConflicts},
		{"GroupMembers", testGroupMembers},
		{"GroupMembersCascade", testGroupMembersCascade},
		{"Sessions", testSessions},
		{"SessionsDelete", testSessionsDelete},
		{"ConsumeOnce", testConsumeOnce},
		{"ConsumeOnceConcurrent", testConsumeOnceConcurrent},
		{"GetSessionUser", testGetSessionUser},
		{"GetSignInFacts", testGetSignInFacts},
		{"RecordVisit", testRecordVisit},
		{"RecordVisitConcurrent", testRecordVisitConcurrent},
		{"ServiceProviderVersion", testServiceProviderVersion},
		{"RecordVisitChangedSP", testRecordVisitChangedSP},
		{"SessionStamp", testSessionStamp},
		{"Throttles", testThrottles},
		{"ThrottlesConcurrent", testThrottlesConcurrent},
		{"ThrottlesUpdateDeleteRace", testThrottlesUpdateDeleteRace},
		{"Audit", testAudit},
		{"MFA", testMFA},
		{"Passkeys", testPasskeys},
		{"Tokens", testTokens},
		{"TokensConcurrentConsume", testTokensConcurrentConsume},
		{"SigningKeys", testSigningKeys},
		{"SigningKeysConcurrentActive", testSigningKeysConcurrentActive},
		{"ErrorsAreStoreErrors", testErrorsAreStoreErrors},
		{"UpdateKeepsKey", testUpdateKeepsKey},
		{"RoundTrip", testRoundTrip},
		{"Settings", testSettings},
		{"Directories", testDirectories},
		{"APITokens", testAPITokens},
		{"ExternalID", testExternalID},
		{"Ping", func(t *testing.T, s store.Store) {
			if err := s.Ping(t.Context()); err != nil {
				t.Fatalf("Ping: %v", err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.test(t, newStore(t))
		})
	}
}

// Fixed times: no case depends on the clock, except that the store's own
// stamps (CreatedAt when zero, UpdatedAt on update) are later than t0, and
// that ConsumeOnce sees tPast as past and tFuture as future.
var (
	// t0 has nanoseconds and a zone, to check that the store returns UTC
	// truncated to microseconds.
	t0      = time.Date(2024, 3, 1, 9, 30, 0, 123456789, time.FixedZone("CET", 3600))
	tPast   = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	tFuture = time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)
)

// stored is t as the store returns it.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// wantErr fails unless err is (or wraps) target.
func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// noErr fails on err.
func noErr(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// same fails unless got equals want. Times must be equal instants and in
// UTC; a nil slice or map equals an empty one.
func same[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !equal(reflect.ValueOf(got), reflect.ValueOf(want)) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

var timeType = reflect.TypeFor[time.Time]()

func equal(a, b reflect.Value) bool {
	if a.Type() != b.Type() {
		return false
	}
	if a.Type() == timeType {
		ta, tb := a.Interface().(time.Time), b.Interface().(time.Time)
		return ta.Equal(tb) && ta.Location() == time.UTC && tb.Location() == time.UTC
	}
	switch a.Kind() {
	case reflect.Struct:
		for i := range a.NumField() {
			if !equal(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !equal(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for it := a.MapRange(); it.Next(); {
			bv := b.MapIndex(it.Key())
			if !bv.IsValid() || !equal(it.Value(), bv) {
				return false
			}
		}
		return true
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equal(a.Elem(), b.Elem())
	default:
		return a.Equal(b)
	}
}

// attrs builds a Set from name, raw value pairs with attributes.Parse.
func attrs(t *testing.T, pairs ...string) attributes.Set {
	t.Helper()
	set, err := attributes.SetOf(pairs...)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// parallel runs n copies of f concurrently, released together, and
// returns their errors by index.
func parallel(t *testing.T, n int, f func(ctx context.Context, i int) error) []error {
	t.Helper()
	ctx := t.Context()
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(ctx, i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner checks that exactly one of errs is nil and the others are
// ErrConflict.
func oneWinner(t *testing.T, errs []error, what string) {
	t.Helper()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("%s #%d: got %v, want nil or ErrConflict", what, i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%s: %d of %d concurrent callers succeeded, want exactly 1", what, wins, len(errs))
	}
}

// updateMissing checks that update of a missing record returns
// ErrNotFound without calling the updater.
func updateMissing[T any](t *testing.T, what string, update func(context.Context, string, func(T) (T, error)) (T, error)) {
	t.Helper()
	called := false
	_, err := update(t.Context(), "nope", func(v T) (T, error) {
		called = true
		return v, nil
	})
	wantErr(t, err, store.ErrNotFound, what+" of a missing record")
	if called {
		t.Errorf("%s called the updater for a missing record", what)
	}
}

// updateRefused checks that when the updater changes the record (change)
// and then fails, update returns the updater's error as is and stores
// nothing.
func updateRefused[T any](t *testing.T, what, key string,
	update func(context.Context, string, func(T) (T, error)) (T, error),
	get func(context.Context, string) (T, error),
	change func(*T),
) {
	t.Helper()
	before, err := get(t.Context(), key)
	noErr(t, err, what+": get")
	errRefused := errors.New("refused by the updater")
	_, err = update(t.Context(), key, func(v T) (T, error) {
		change(&v)
		return v, errRefused
	})
	if err != errRefused {
		t.Fatalf("%s: got error %v, want the updater's error as is", what, err)
	}
	after, err := get(t.Context(), key)
	noErr(t, err, what+": get")
	same(t, what+": record after a refused update", after, before)
}

func id(prefix string, i int) string { return fmt.Sprintf("%s-%02d", prefix, i) }
