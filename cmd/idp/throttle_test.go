package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

// throttleBackends are the store backends the throttle tests run on, and
// how many replicas share the database (SQLite serves one).
var throttleBackends = []struct {
	name     string
	replicas int
	env      func(t *testing.T) *testEnv
}{
	{"postgres", 2, newTestEnv},
	{"sqlite", 1, func(t *testing.T) *testEnv { e, _ := sqliteEnv(t); return e }},
}

// signInResult is the outcome of one concurrent sign-in.
type signInResult struct {
	email  string
	status int
	body   string
}

// concurrentSignIns opens a login form for each of emails, then submits
// them all at once (spread over the replicas) with password pw.
func concurrentSignIns(t *testing.T, replicas []string, emails []string, pw string) []signInResult {
	t.Helper()
	type form struct {
		b    *browser
		base string
		page string
	}
	forms := make([]form, len(emails))
	for i := range emails {
		base := replicas[i%len(replicas)]
		b := newBrowser(t)
		page, _ := b.startSignIn(flexTestSP(t, base))
		forms[i] = form{b, base, page}
	}
	out := make([]signInResult, len(emails))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, email := range emails {
		wg.Go(func() {
			<-start
			status, body := forms[i].b.login(forms[i].base, forms[i].page, email, pw)
			out[i] = signInResult{email, status, body}
		})
	}
	close(start)
	wg.Wait()
	return out
}

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
	for _, be := range throttleBackends {
		t.Run(be.name, func(t *testing.T) {
			e := be.env(t)
			setupFlex(t, e)
			for i := range 4 {
				e.cli(password+"\n", "users", "add", "--email", fmt.Sprintf("many%d@example.com", i), "--roles", "agent")
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					var replicas []string
					for range be.replicas {
						replicas = append(replicas, e.startServe(c.flags...))
					}
					for _, r := range concurrentSignIns(t, replicas, c.emails(), password) {
						if r.status != http.StatusOK || !strings.Contains(r.body, "SAMLResponse") {
							t.Errorf("%s: status %d, want 200 with a Response\n%s", r.email, r.status, r.body)
						}
					}
				})
			}
		})
	}
}

// TestConcurrentWrongPasswordsLock: guesses sent all at once, on every
// replica, cannot slip past the lock threshold: exactly LockAfter of them
// are checked, the others are refused, and the account is locked.
func TestConcurrentWrongPasswordsLock(t *testing.T) {
	const lockAfter, guesses = 4, 20
	for _, be := range throttleBackends {
		t.Run(be.name, func(t *testing.T) {
			e := be.env(t)
			setupFlex(t, e)
			flags := []string{"--lockout-backoff-after", "100", "--lockout-threshold", fmt.Sprint(lockAfter)}
			var replicas []string
			for range be.replicas {
				replicas = append(replicas, e.startServe(flags...))
			}
			count := map[int]int{}
			for _, r := range concurrentSignIns(t, replicas, slices.Repeat([]string{"agent@example.com"}, guesses), "wrong password") {
				count[r.status]++
				if r.status != http.StatusUnauthorized && r.status != http.StatusTooManyRequests {
					t.Errorf("guess: status %d, want 401 or 429\n%s", r.status, r.body)
				}
			}
			if count[http.StatusUnauthorized] != lockAfter || count[http.StatusTooManyRequests] != guesses-lockAfter {
				t.Fatalf("%d concurrent guesses: %d checked (401), %d refused (429); want %d checked",
					guesses, count[http.StatusUnauthorized], count[http.StatusTooManyRequests], lockAfter)
			}
			r := concurrentSignIns(t, replicas, []string{"agent@example.com"}, password)[0]
			wantStatus(t, "the right password after the guesses", r.status, http.StatusTooManyRequests, r.body)
			mustContain(t, r.body, "Too many failed sign-ins")
		})
	}
}
