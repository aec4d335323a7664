package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/users"
)

// TestBurstAnsweredWithinWriteTimeout: a burst of sign-ins three times
// what one hashing slot can serve within the HTTP server's write timeout
// gets an answer for every one, in time: the sign-in (303), or at once the
// login form again (503) with the typed email, "try again in N seconds"
// and Retry-After. Never a connection closed by the write timeout (the
// client's EOF), which is what a queue bounded only by the request's
// context gave.
func TestBurstAnsweredWithinWriteTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes for a few seconds")
	}
	// Real argon2id, slow enough that the burst is worth seconds of
	// hashing; its time on this machine sets the burst's size.
	hs := users.NewHasher(users.Params{Memory: 16 * 1024, Iterations: 4, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 1)
	hs.SetMaxWait(20 * time.Second) // serve's default, beyond the write timeout
	perHash := timeVerify(t, hs)
	const writeTimeout = 3 * time.Second
	n := min(max(int(3*writeTimeout/perHash), 20), 400)
	t.Logf("one hash %s: %d sign-ins at once, write timeout %s", perHash, n, writeTimeout)

	h := newTestIdP(t, idpOptions{Hasher: hs, WriteTimeout: writeTimeout,
		Lockout: accounts.LockoutPolicy{LockAfter: 1 << 20, BackoffAfter: 1 << 20}})
	const email = "agent@example.com"
	type answer struct {
		status     int
		retryAfter string
		body       string
		took       time.Duration
		err        error
	}
	answers := make([]answer, n)
	forms := make([]*http.Client, n)
	posts := make([]url.Values, n)
	for i := range n {
		jar, _ := cookiejar.New(nil)
		forms[i] = &http.Client{Jar: jar, Timeout: 4 * writeTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := forms[i].Get(h.URL + "/login")
		if err != nil {
			t.Fatal(err)
		}
		page, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		f := samltest.HiddenFields(string(page))
		posts[i] = url.Values{"csrf": {f["csrf"]}, "state": {f["state"]}, "email": {email}, "password": {password}}
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			begin := time.Now()
			resp, err := forms[i].PostForm(h.URL+"/login", posts[i])
			a := answer{err: err}
			if err == nil {
				a.status, a.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
				var body []byte
				body, a.err = io.ReadAll(resp.Body)
				resp.Body.Close()
				a.body = string(body)
			}
			a.took = time.Since(begin)
			answers[i] = a
		})
	}
	close(start)
	wg.Wait()

	var signedIn, shed int
	for i, a := range answers {
		switch {
		case a.err != nil:
			t.Errorf("sign-in %d: no answer after %s: %v", i, a.took.Round(time.Millisecond), a.err)
			continue
		case a.took >= writeTimeout:
			t.Errorf("sign-in %d: answered %d after %s, beyond the %s write timeout", i, a.status, a.took.Round(time.Millisecond), writeTimeout)
		}
		switch a.status {
		case http.StatusSeeOther:
			signedIn++
		case http.StatusServiceUnavailable:
			shed++
			if secs, err := strconv.Atoi(a.retryAfter); err != nil || secs < 1 {
				t.Errorf("sign-in %d: 503 with Retry-After %q, want whole seconds >= 1", i, a.retryAfter)
			}
			for _, want := range []string{"Many people are signing in right now. Try again in ", `value="` + email + `"`, `name="password"`} {
				if !strings.Contains(a.body, want) {
					t.Errorf("sign-in %d: 503 page lacks %q:\n%s", i, want, a.body)
				}
			}
		default:
			t.Errorf("sign-in %d: status %d, want 303 or 503:\n%s", i, a.status, a.body)
		}
	}
	t.Logf("%d signed in, %d told to try again", signedIn, shed)
	if signedIn == 0 || shed == 0 {
		t.Errorf("%d signed in and %d told to try again; a burst of three write timeouts of hashing wants both", signedIn, shed)
	}
}

// timeVerify is the median time of verifying a password with hs on this
// machine (which also gives hs its estimate of a hash's time).
func timeVerify(t *testing.T, hs *users.Hasher) time.Duration {
	t.Helper()
	ctx := context.Background()
	enc, err := hs.Hash(ctx, password)
	if err != nil {
		t.Fatal(err)
	}
	var times []time.Duration
	for range 5 {
		begin := time.Now()
		if _, _, err := hs.Verify(ctx, enc, password); err != nil {
			t.Fatal(err)
		}
		times = append(times, time.Since(begin))
	}
	return users.Median(times)
}
