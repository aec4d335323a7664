package server_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/users"
)

// The throttle's behaviour across replicas of one PostgreSQL database is
// tested with the idp binary (cmd/idp, throttle_test.go); here it runs on
// the embedded store, which one server serves.

// TestConcurrentCorrectSignIns: correct sign-ins at the same moment, of
// one account (a shared login, an agent with several tabs) or of many, are
// all answered with a Response under the default lockout policy: none is
// taken for a failure (429) and none errs. Each case restarts the server on
// the same store, as the throttle state outlives a process.
func TestConcurrentCorrectSignIns(t *testing.T) {
	cases := []struct {
		name    string
		lockout accounts.LockoutPolicy
		emails  func() []string
	}{
		// Eight at once is more than BackoffAfter (3) and fewer than
		// LockAfter (10).
		{"one account", accounts.LockoutPolicy{}, func() []string { return slices.Repeat([]string{"agent@example.com"}, 8) }},
		{"many accounts", accounts.LockoutPolicy{}, func() []string {
			var emails []string
			for i := range 4 {
				emails = append(emails, slices.Repeat([]string{fmt.Sprintf("many%d@example.com", i)}, 4)...)
			}
			return emails
		}},
		{"one account, high thresholds", accounts.LockoutPolicy{BackoffAfter: 10000, LockAfter: 10000},
			func() []string { return slices.Repeat([]string{"agent@example.com"}, 16) }},
	}
	first := newTestIdP(t, idpOptions{})
	for i := range 4 {
		first.addUser(t, users.User{Email: fmt.Sprintf("many%d@example.com", i), Roles: []string{"agent"}})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newTestIdP(t, idpOptions{Store: first.Store, Lockout: c.lockout})
			for _, r := range samltest.ConcurrentSignIns(t, []string{h.URL}, c.emails(), password) {
				if r.Status != http.StatusOK || !strings.Contains(r.Body, "SAMLResponse") {
					t.Errorf("%s: status %d, want 200 with a Response\n%s", r.Email, r.Status, r.Body)
				}
			}
		})
	}
}

// TestConcurrentWrongPasswordsLock: guesses sent all at once cannot slip
// past the lock threshold: exactly LockAfter of them are checked, the
// others are refused, and the account is locked.
func TestConcurrentWrongPasswordsLock(t *testing.T) {
	const lockAfter, guesses = 4, 20
	h := newTestIdP(t, idpOptions{Lockout: accounts.LockoutPolicy{BackoffAfter: 100, LockAfter: lockAfter}})
	samltest.GuessesLock(t, []string{h.URL}, "agent@example.com", password, guesses, lockAfter)
}
