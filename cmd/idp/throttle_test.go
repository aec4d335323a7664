package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/samltest"
)

// The throttle tests run here on PostgreSQL with two replicas of one
// database; their single-server cases on the embedded store are in
// internal/server (throttle_test.go).
const throttleReplicas = 2

// TestConcurrentCorrectSignIns: correct sign-ins at the same moment, of
// one account (a shared login, an agent with several tabs) or of many,
// on every replica, are all answered with a Response under the default
// lockout policy: none is taken for a failure (429) and none errs.
func TestConcurrentCorrectSignIns(t *testing.T) {
	cases := []struct {
		name   string
		flags  []string
		emails func() []string
	}{
		// Eight at once is more than BackoffAfter (3) and fewer than
		// LockAfter (10).
		{"one account", nil, func() []string { return slices.Repeat([]string{"agent@example.com"}, 8) }},
		{"many accounts", nil, func() []string {
			var emails []string
			for i := range 4 {
				emails = append(emails, slices.Repeat([]string{fmt.Sprintf("many%d@example.com", i)}, 4)...)
			}
			return emails
		}},
		{"one account, high thresholds", []string{"--lockout-backoff-after", "10000", "--lockout-threshold", "10000"},
			func() []string { return slices.Repeat([]string{"agent@example.com"}, 16) }},
	}
	e := newTestEnv(t)
	setupFlex(t, e)
	for i := range 4 {
		e.cli(password+"\n", "users", "add", "--email", fmt.Sprintf("many%d@example.com", i), "--roles", "agent")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var replicas []string
			for range throttleReplicas {
				replicas = append(replicas, e.startServe(c.flags...))
			}
			for _, r := range samltest.ConcurrentSignIns(t, replicas, c.emails(), password) {
				if r.Status != http.StatusOK || !strings.Contains(r.Body, "SAMLResponse") {
					t.Errorf("%s: status %d, want 200 with a Response\n%s", r.Email, r.Status, r.Body)
				}
			}
		})
	}
}

// TestConcurrentWrongPasswordsLock: guesses sent all at once, on every
// replica, cannot slip past the lock threshold: exactly LockAfter of them
// are checked, the others are refused, and the account is locked.
func TestConcurrentWrongPasswordsLock(t *testing.T) {
	const lockAfter, guesses = 4, 20
	e := newTestEnv(t)
	setupFlex(t, e)
	flags := []string{"--lockout-backoff-after", "100", "--lockout-threshold", fmt.Sprint(lockAfter)}
	var replicas []string
	for range throttleReplicas {
		replicas = append(replicas, e.startServe(flags...))
	}
	samltest.GuessesLock(t, replicas, "agent@example.com", password, guesses, lockAfter)
}
