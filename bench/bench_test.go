package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPeerAnswersAsFlexNeeds runs the peer (crewjam's samlidp) through a
// sign-in and an SSO within the session, as the benchmark's agents do,
// and checks that what it is compared with does what flexidp does: both
// signatures, RSA-SHA256, the Flex attributes.
// peerLoad starts crewjam's samlidp (the peer) on a test server and
// returns the load that drives it.
func peerLoad(t *testing.T) (*load, *target) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base, _ := url.Parse("http://" + srv.Listener.Addr().String())
	h, err := newPeer(*base, 2)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	tg := peerTarget(srv.URL, os.Getpid())
	lg, err := newLoad(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	return lg, tg
}

func TestPeerAnswersAsFlexNeeds(t *testing.T) {
	lg, tg := peerLoad(t)
	a := lg.newAgent(1)
	if _, err := lg.passwordSignIn(a); err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	// Within the session: no password, and the Response verified by
	// crewjam's SP as Flex (NameID, audience, InResponseTo, signatures).
	redirect, reqID, err := lg.authnRequest()
	if err != nil {
		t.Fatal(err)
	}
	status, body, err := a.get(context.Background(), redirect)
	if err != nil || status != http.StatusOK {
		t.Fatalf("GET /sso within the session: %d %v", status, err)
	}
	if err := lg.verify(a, body, reqID); err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(hiddenFields(body)["SAMLResponse"])
	xml := string(raw)
	if n := strings.Count(xml, "<ds:SignatureValue>"); n != 2 {
		t.Errorf("%d signatures, want 2 (Response and Assertion)", n)
	}
	if strings.Contains(xml, "rsa-sha1") || !strings.Contains(xml, `Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"`) {
		t.Errorf("signature method is not RSA-SHA256 only")
	}
	for _, name := range []string{"email", "full_name", "roles", "team"} {
		if !strings.Contains(xml, `Name="`+name+`"`) {
			t.Errorf("no %s attribute", name)
		}
	}
	if m, b, err := tg.memStats(); err != nil || m <= 0 || b <= 0 {
		t.Errorf("memstats: %v %v %v", m, b, err)
	}
}

func TestPromMemStats(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("# HELP go_memstats_mallocs_total x\ngo_memstats_mallocs_total 1.5e+06\n" +
			"go_memstats_alloc_bytes_total 4.2e+08\ngo_memstats_alloc_bytes 1234\n"))
	}))
	defer srv.Close()
	m, b, err := promMemStats(srv.URL)()
	if err != nil || m != 1.5e6 || b != 4.2e8 {
		t.Fatalf("got %v %v %v, want 1.5e6 4.2e8", m, b, err)
	}
	empty := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer empty.Close()
	if _, _, err := promMemStats(empty.URL)(); err == nil {
		t.Fatal("no error without the counters")
	}
}

func TestCountersPerOperation(t *testing.T) {
	before := counters{statements: 10, writeXacts: 100, mallocs: 1000, pgCPU: 1}
	after := counters{statements: 40, writeXacts: 110, mallocs: 31000, pgCPU: 1.5}
	d := after.minus(before)
	d.ops = 10
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"statements", d.per(d.statements), 3},
		{"commits", d.per(d.writeXacts), 1},
		{"allocs", d.per(d.mallocs), 3000},
		{"pg cpu", d.per(d.pgCPU), 0.05},
	} {
		if math.Abs(tc.got-tc.want) > 1e-9 {
			t.Errorf("%s per op = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if !math.IsNaN((counters{}).per(1)) {
		t.Error("per op without operations is not NaN")
	}
	if got := num(math.NaN(), 2); got != "n/a" {
		t.Errorf("num(NaN) = %q", got)
	}
	if got := num(414123, 0); got != "414,123" {
		t.Errorf("num(414123) = %q", got)
	}
}

// TestProcessTreeCPU reads this process's children: a process's own CPU
// time is part of its tree's.
func TestProcessTreeCPU(t *testing.T) {
	self, err := readProc("self")
	if err != nil {
		t.Skip("no /proc")
	}
	tree, err := processTreeCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if tree < self.cpuSeconds {
		t.Fatalf("tree %v < self %v", tree, self.cpuSeconds)
	}
}

// TestBurstSignInHonoursRetryAfter: a burst sign-in told "busy" (503 with
// Retry-After and the form again) waits as told and submits the form
// again, at most its retries; a 503 without Retry-After and a closed
// connection are errors at once, not retried.
func TestBurstSignInHonoursRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name       string
		busy       int    // how many logins answer 503 before the peer's own
		answer     string // "busy" (503, Retry-After 1, the form), "bare" (503 alone), "eof"
		retries    int
		wantShed   int
		wantErr    bool
		wantGaveUp bool
	}{
		{name: "served after two busy answers", busy: 2, answer: "busy", retries: 3, wantShed: 2},
		{name: "gives up after its retries", busy: 5, answer: "busy", retries: 1, wantShed: 1, wantErr: true, wantGaveUp: true},
		{name: "no retries: a 503 is an error", busy: 1, answer: "busy", retries: 0, wantErr: true},
		{name: "503 without Retry-After", busy: 1, answer: "bare", retries: 3, wantErr: true},
		{name: "closed connection", busy: 1, answer: "eof", retries: 3, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(nil)
			base, _ := url.Parse("http://" + srv.Listener.Addr().String())
			peer, err := newPeer(*base, 2)
			if err != nil {
				t.Fatal(err)
			}
			var busy atomic.Int32
			busy.Store(int32(tc.busy))
			srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.FormValue("user") == "" || busy.Add(-1) < 0 {
					peer.ServeHTTP(w, r)
					return
				}
				switch tc.answer {
				case "eof":
					conn, _, _ := w.(http.Hijacker).Hijack()
					conn.Close()
				case "bare":
					w.WriteHeader(http.StatusServiceUnavailable)
				default:
					w.Header().Set("Retry-After", "1")
					w.WriteHeader(http.StatusServiceUnavailable)
					fmt.Fprintf(w, `<form><input type="hidden" name="SAMLRequest" value="%s"><input type="hidden" name="RelayState" value="%s"><input name="password"></form>`,
						html.EscapeString(r.FormValue("SAMLRequest")), html.EscapeString(r.FormValue("RelayState")))
				}
			})
			srv.Start()
			defer srv.Close()
			lg, err := newLoad(context.Background(), peerTarget(srv.URL, os.Getpid()))
			if err != nil {
				t.Fatal(err)
			}
			out := lg.signIn(lg.newAgent(1), tc.retries)
			if (out.err != nil) != tc.wantErr || errors.Is(out.err, errGaveUp) != tc.wantGaveUp {
				t.Fatalf("err = %v, want error %v (gave up %v)", out.err, tc.wantErr, tc.wantGaveUp)
			}
			if out.shed != tc.wantShed {
				t.Errorf("shed = %d, want %d", out.shed, tc.wantShed)
			}
			if least := time.Duration(tc.wantShed) * time.Second; out.waited < least {
				t.Errorf("waited %s, want at least Retry-After x %d = %s", out.waited, tc.wantShed, least)
			}
		})
	}
}

func TestErrorKind(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("Post %q: %w", "http://x/login", io.EOF), "no answer (connection closed: EOF/reset)"},
		{fmt.Errorf("login: %w after 7 busy answers (503), 90s waited", errGaveUp), "gave up (still busy after the last retry)"},
		{errors.New("login: status 500"), "login: status 500"},
		{errors.New("GET SSO: status 503, no login form"), "GET SSO: status 503"},
		{errors.New("crewjam SP refuses the Response: x"), "other"},
	} {
		if got := errorKind(tc.err); got != tc.want {
			t.Errorf("errorKind(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestPreparedRequestsEachOnce: the AuthnRequests an sso phase builds
// ahead are sent in turn, each once, then new ones are built; the server
// answers them within the session, and every ID is distinct.
func TestPreparedRequestsEachOnce(t *testing.T) {
	lg, _ := peerLoad(t)
	a := lg.newAgent(1)
	if _, err := lg.passwordSignIn(a); err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	if err := lg.prepareSSO(time.Second, 3); err != nil {
		t.Fatal(err)
	}
	prepared := slices.Clone(lg.ready)
	if len(prepared) != 3 {
		t.Fatalf("%d requests built for 1 s at 3/s, want 3", len(prepared))
	}
	seen := map[string]bool{}
	for i := range 5 {
		redirect, id, err := lg.nextRequest()
		if err != nil {
			t.Fatal(err)
		}
		if i < len(prepared) && (redirect != prepared[i].url || id != prepared[i].id) {
			t.Errorf("request %d is not the %d-th built ahead", i, i)
		}
		if seen[id] {
			t.Errorf("request ID %s sent twice", id)
		}
		seen[id] = true
		if _, err := lg.sessionSSOWith(a, redirect, id); err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	if failed, err := lg.checkDeferred(); failed > 0 {
		t.Errorf("%d Responses failed verification: %v", failed, err)
	}
}
