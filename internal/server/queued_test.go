package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/users"
)

// busyBrowser is a browser on the login form of h.
type busyBrowser struct {
	t           *testing.T
	h           *testIdP
	c           *http.Client
	csrf, state string // the last form's
}

func newBusyBrowser(t *testing.T, h *testIdP) *busyBrowser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &busyBrowser{t: t, h: h, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	resp, err := b.c.Get(h.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	f := samltest.HiddenFields(string(page))
	b.csrf, b.state = f["csrf"], f["state"]
	return b
}

// signIn posts the form with state and returns the answer; the browser
// keeps the fields of the form answered.
func (b *busyBrowser) signIn(email, state string) (status int, retryAfter, body string) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.h.URL+"/login", url.Values{"csrf": {b.csrf}, "state": {state},
		"email": {email}, "password": {password}})
	if err != nil {
		b.t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	f := samltest.HiddenFields(string(page))
	if f["state"] != "" {
		b.csrf, b.state = f["csrf"], f["state"]
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(page)
}

// queuedIn is the time of the first busy answer a login form's state
// carries (Unix milliseconds), 0 for none. The state is signed, not
// hidden: its payload is JSON.
func queuedIn(t *testing.T, state string) int64 {
	t.Helper()
	payload, _, ok := strings.Cut(state, ".")
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if !ok || err != nil {
		t.Fatalf("state %q is not payload.signature", state)
	}
	var st struct {
		Queued int64 `json:"q"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	return st.Queued
}

// withQueued is state with its time of the first busy answer changed to
// q, and its signature kept: a forged ticket.
func withQueued(t *testing.T, state string, q int64) string {
	t.Helper()
	payload, sig, _ := strings.Cut(state, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["q"] = q
	raw, _ = json.Marshal(m)
	return base64.RawURLEncoding.EncodeToString(raw) + "." + sig
}

// TestBusyLoginKeepsItsPlace: a sign-in answered "busy, try again" gets
// the form again with the email kept and, in its signed state, the time
// of its first busy answer; coming back with it, it keeps that time while
// it is answered busy again, and the password hasher serves it before
// those who came since: it signs in where a newcomer is told to wait. A
// time older than ten minutes is ignored (a newcomer's, with a new time),
// and a state whose time was changed is refused as any altered form is.
func TestBusyLoginKeepsItsPlace(t *testing.T) {
	const email = "agent@example.com"
	var mu sync.Mutex
	clock := time.Now().Add(-time.Minute).Truncate(time.Millisecond) // the first busy answer, a minute ago
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); clock = clock.Add(d) }

	hs := users.NewHasher(users.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 1)
	perHash := timeVerify(t, hs)
	// Forty callers on their way to the hasher, announced now: a newcomer
	// would wait for them beyond the maximum wait of twenty hashes; one
	// that was told "busy" before they came has nobody ahead.
	maxWait := 20 * perHash
	block := func() (release func()) {
		hs.SetMaxWait(0) // they are on their way already
		defer hs.SetMaxWait(maxWait)
		var dones []func()
		for range 40 {
			done, err := hs.Expect(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			dones = append(dones, done)
		}
		return func() {
			for _, d := range dones {
				d()
			}
		}
	}
	h := newTestIdP(t, idpOptions{Hasher: hs, Now: now,
		Lockout: accounts.LockoutPolicy{LockAfter: 1 << 20, BackoffAfter: 1 << 20}})

	busy := func(t *testing.T, b *busyBrowser, state string, wantQueued time.Time) {
		t.Helper()
		status, retry, body := b.signIn(email, state)
		if status != http.StatusServiceUnavailable || retry == "" {
			t.Fatalf("status %d, Retry-After %q, want 503 busy with Retry-After:\n%s", status, retry, body)
		}
		samltest.MustContain(t, body, "Many people are signing in right now. Try again in ", `value="`+email+`"`, `name="password"`)
		if got := queuedIn(t, b.state); got != wantQueued.UnixMilli() {
			t.Fatalf("the form's queue time is %s, want %s", time.UnixMilli(got).UTC(), wantQueued.UTC())
		}
	}

	// Saturated by callers already on their way: the first busy answer.
	release := block()
	first := now()
	returner := newBusyBrowser(t, h)
	busy(t, returner, returner.state, first)
	release()

	// Thirty seconds later, more callers than fit ahead of a newcomer
	// arrived after it.
	advance(30 * time.Second)
	release = block()
	newcomer := newBusyBrowser(t, h)
	busy(t, newcomer, newcomer.state, now())
	// The one told "busy" first comes back: served before them.
	if status, _, body := returner.signIn(email, returner.state); status != http.StatusSeeOther {
		t.Fatalf("the returner: status %d, want 303 (signed in before the newcomers):\n%s", status, body)
	}
	release()

	t.Run("busy again keeps the first time", func(t *testing.T) {
		maxWait = time.Nanosecond // shorter than any hash: busy, whoever asks
		release := block()
		defer release()
		b := newBusyBrowser(t, h)
		firstBusy := now()
		busy(t, b, b.state, firstBusy)
		advance(5 * time.Second)
		busy(t, b, b.state, firstBusy)
		advance(5 * time.Second)
		busy(t, b, b.state, firstBusy)

		// Ten minutes after the first busy answer, the time is ignored:
		// asked as a newcomer, with a new time.
		advance(10 * time.Minute)
		busy(t, b, b.state, now())

		// A time changed by the browser: the signature no longer
		// matches, the form is refused (not served first).
		forged := withQueued(t, b.state, now().Add(-5*time.Minute).UnixMilli())
		status, _, body := b.signIn(email, forged)
		if status != http.StatusBadRequest || strings.Contains(body, "Many people are signing in") {
			t.Fatalf("forged time: status %d, want 400 (an altered form):\n%s", status, body)
		}
	})
}
