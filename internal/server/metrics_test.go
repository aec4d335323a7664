package server

import (
	"bytes"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/flexidp/flexidp/internal/users"
)

// tchars are the characters of an HTTP token: net/http accepts any token
// as a method.
const tchars = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomMethod is a token of 32 to 1024 characters.
func randomMethod(rng *rand.Rand) string {
	b := make([]byte, 32+rng.IntN(993))
	for i := range b {
		b[i] = tchars[rng.IntN(len(tchars))]
	}
	return string(b)
}

// hostileRequest is a request with a random long method (or, one time in
// four, GET) to a random path or a real route.
func hostileRequest(rng *rand.Rand) *http.Request {
	method := randomMethod(rng)
	paths := []string{"/login", "/healthz", "/saml/sso", "/static/style.css", "/sso/idp/" + randomHex(rng),
		"/" + randomHex(rng) + "/" + randomHex(rng)}
	path := paths[rng.IntN(len(paths))]
	if rng.IntN(4) == 0 {
		// A standard method only where the handler needs no store.
		method, path = http.MethodGet, "/no/"+randomHex(rng)
	}
	return httptest.NewRequest(method, "http://idp.example.com"+path, nil)
}

func randomHex(rng *rand.Rand) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 8+rng.IntN(56))
	for i := range b {
		b[i] = hex[rng.IntN(len(hex))]
	}
	return string(b)
}

// seriesCount counts the series of a real scrape, read by Prometheus'
// own text parser.
func seriesCount(t *testing.T, m *Metrics) int {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	parser := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := parser.TextToMetricFamilies(w.Body)
	if err != nil {
		t.Fatalf("the scrape does not parse: %v", err)
	}
	n := 0
	for _, mf := range mfs {
		n += len(mf.GetMetric())
	}
	return n
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMetricsCardinalityBounded sends 10,000 requests with random long
// methods and random paths through the real handler: no request may add a
// series, and the heap stays where it was (each label value used to be a
// new histogram series that lived forever).
func TestMetricsCardinalityBounded(t *testing.T) {
	m := NewMetrics(users.NewHasher(users.DefaultParams, 1), nil)
	h := newTestServer(t, Config{Metrics: m}, "https://idp.example.com", nil).Handler()
	rng := rand.New(rand.NewPCG(1, 2))
	send := func(n int) {
		for range n {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, hostileRequest(rng))
			if w.Code >= 500 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	}
	// Warm up: every (route, method class, code) the generator can reach
	// exists afterwards, and lazily built state is built.
	send(1000)
	series, heap := seriesCount(t, m), heapAfterGC()

	send(10_000)
	if got := seriesCount(t, m); got != series {
		t.Errorf("10,000 hostile requests changed the series count from %d to %d", series, got)
	}
	const bound = 4 << 20
	after := heapAfterGC()
	t.Logf("heap %d -> %d", heap, after)
	if after > heap+bound {
		t.Errorf("heap grew from %d to %d bytes (more than %d) over 10,000 hostile requests", heap, after, bound)
	}
	// The handler and its metrics must be live when the heap is measured.
	runtime.KeepAlive(h)
	runtime.KeepAlive(m)
}

func TestMetricLabels(t *testing.T) {
	for _, tc := range []struct {
		method string
		code   int
		want   [2]string
	}{
		{"GET", 200, [2]string{"GET", "200"}},
		{"PATCH", 0, [2]string{"PATCH", "200"}},
		{"get", 404, [2]string{"other", "404"}},
		{"PROPFIND", 207, [2]string{"other", "207"}},
		{strings.Repeat("X", 4096), 405, [2]string{"other", "405"}},
		{"POST", 299, [2]string{"POST", "2xx"}},
		{"POST", 999, [2]string{"POST", "other"}},
	} {
		if got := [2]string{methodLabel(tc.method), codeLabel(tc.code)}; got != tc.want {
			t.Errorf("labels(%.20q, %d) = %q, want %q", tc.method, tc.code, got, tc.want)
		}
	}
}

// TestRequestLogBoundsMethod: the request log line and the 405 page carry
// at most maxLoggedMethod bytes of an unknown method.
func TestRequestLogBoundsMethod(t *testing.T) {
	s := newTestServer(t, Config{}, "https://idp.example.com", nil)
	var logs bytes.Buffer
	s.log = slog.New(slog.NewJSONHandler(&logs, nil))
	method := strings.Repeat("M", 4096)
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest(method, "https://idp.example.com/login", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("status %d, want 405", w.Code)
	}
	long := strings.Repeat("M", maxLoggedMethod+1)
	if strings.Contains(logs.String(), long) || strings.Contains(w.Body.String(), long) {
		t.Errorf("the log or the page holds more than %d bytes of the method:\n%s", maxLoggedMethod, logs.String())
	}
	if !strings.Contains(logs.String(), `"method":"`+method[:maxLoggedMethod]+`…"`) {
		t.Errorf("the request log lacks the cut method:\n%s", logs.String())
	}
}

// TestMetricsEndpoint: the main handler serves /metrics only with a token,
// and then only to a request that carries it.
func TestMetricsEndpoint(t *testing.T) {
	const token = "0123456789abcdef-metrics"
	for _, tc := range []struct {
		name     string
		cfg      Config
		auth     string
		want     int
		wantBody string
	}{
		{name: "no token: not served", cfg: Config{}, want: http.StatusNotFound},
		{name: "no token, even with a header", cfg: Config{}, auth: "Bearer " + token, want: http.StatusNotFound},
		{name: "token, none sent", cfg: Config{MetricsToken: token}, want: http.StatusUnauthorized},
		{name: "token, wrong one", cfg: Config{MetricsToken: token}, auth: "Bearer " + token + "x", want: http.StatusUnauthorized},
		{name: "token, wrong scheme", cfg: Config{MetricsToken: token}, auth: "Basic " + token, want: http.StatusUnauthorized},
		{name: "token, bare", cfg: Config{MetricsToken: token}, auth: token, want: http.StatusUnauthorized},
		{name: "token, right one", cfg: Config{MetricsToken: token}, auth: "Bearer " + token, want: http.StatusOK, wantBody: "flexidp_http_requests_in_flight"},
		{name: "token, scheme in lower case", cfg: Config{MetricsToken: token}, auth: "bearer " + token, want: http.StatusOK},
		{name: "separate listener", cfg: Config{MetricsToken: token, MetricsSeparate: true}, auth: "Bearer " + token, want: http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Metrics = NewMetrics(users.NewHasher(users.DefaultParams, 1), nil)
			h := newTestServer(t, tc.cfg, "https://idp.example.com", nil).Handler()
			req := httptest.NewRequest(http.MethodGet, "https://idp.example.com/metrics", nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tc.want || !strings.Contains(w.Body.String(), tc.wantBody) {
				t.Fatalf("status %d, want %d; body:\n%.300s", w.Code, tc.want, w.Body)
			}
			if w.Code == http.StatusUnauthorized && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge: %q", w.Header().Get("WWW-Authenticate"))
			}
		})
	}
}
