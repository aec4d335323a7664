package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/flexidp/flexidp/internal/metrics"
	"github.com/flexidp/flexidp/internal/users"
)

// PoolStats is a snapshot of a store's connection pool.
type PoolStats struct {
	Acquired, Idle, Total, Max int
}

// Metrics are flexidp's Prometheus metrics, on a registry of their own.
type Metrics struct {
	reg       *metrics.Registry
	signIns   *metrics.CounterVec
	responses *metrics.CounterVec
	latency   *metrics.HistogramVec
	inFlight  *metrics.Gauge
	dirUp     *metrics.GaugeVec
}

// NewMetrics registers the metrics, with the Go runtime's and the
// process's. hasher exposes the password-hash queue; pool, if not nil, the
// store's connection pool.
func NewMetrics(hasher *users.Hasher, pool func() PoolStats) *Metrics {
	reg := metrics.NewRegistry()
	m := &Metrics{
		reg: reg,
		signIns: reg.NewCounterVec("flexidp_signins_total",
			"Password sign-ins by result (success, bad_credentials, disabled, throttled, busy, directory_unavailable, error).",
			"result"),
		responses: reg.NewCounterVec("flexidp_saml_responses_total",
			"Signed SAML Responses issued, by service provider and status (success, error).",
			"sp", "status"),
		latency: reg.NewHistogramVec("flexidp_http_request_duration_seconds",
			"HTTP request latency by route pattern, method and status code.",
			[]float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
			"route", "method", "code"),
		inFlight: reg.NewGauge("flexidp_http_requests_in_flight",
			"HTTP requests being handled now (the scrape itself included)."),
		dirUp: reg.NewGaugeVec("flexidp_directory_up",
			"Whether each configured directory answered its service account at the last readiness check (1) or not (0).",
			"directory"),
	}
	reg.AddGo()
	reg.AddProcess()
	reg.NewFunc("flexidp_password_hash_queue_depth", "Sign-ins waiting for a password-hashing slot.", metrics.KindGauge,
		func(emit func(float64, ...string)) { emit(float64(hasher.QueueDepth())) })
	reg.NewFunc("flexidp_password_hash_wait_seconds_total", "Total time sign-ins waited for a password-hashing slot.", metrics.KindCounter,
		func(emit func(float64, ...string)) { emit(hasher.TotalWait().Seconds()) })
	reg.NewFunc("flexidp_password_hash_slots", "Password hashes that may run at once (sized to the memory budget).", metrics.KindGauge,
		func(emit func(float64, ...string)) { emit(float64(hasher.Concurrency())) })
	if pool != nil {
		reg.NewFunc("flexidp_store_pool_connections", "Store connection pool connections by state.", metrics.KindGauge,
			func(emit func(float64, ...string)) {
				p := pool()
				emit(float64(p.Acquired), "state", "acquired")
				emit(float64(p.Idle), "state", "idle")
				emit(float64(p.Max), "state", "max")
				emit(float64(p.Total), "state", "total")
			})
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler { return m.reg }

// MinMetricsToken is the shortest bearer token accepted for /metrics: the
// endpoint is not throttled, so the token must not be guessable.
const MinMetricsToken = 16

// Protected is Handler behind RequireToken.
func (m *Metrics) Protected(token string) http.Handler { return RequireToken(token, m.Handler()) }

// RequireToken serves h only to requests that carry the bearer token
// (Authorization: Bearer token), compared in constant time; an empty token
// requires nothing.
func RequireToken(token string, h http.Handler) http.Handler {
	if token == "" {
		return h
	}
	// Comparing digests keeps the comparison constant-time in the
	// token's length too.
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, credentials, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		got := sha256.Sum256([]byte(strings.TrimSpace(credentials)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="flexidp metrics"`)
			http.Error(w, "This endpoint needs the bearer token set in IDP_METRICS_TOKEN.", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// signIn counts a sign-in attempt; nil-safe so a Server without metrics works.
func (m *Metrics) signIn(result string) {
	if m != nil {
		m.signIns.WithLabelValues(result).Inc()
	}
}

// directory records whether a directory answered; name must be a
// configured source's (admins bound that set).
func (m *Metrics) directory(name string, up bool) {
	if m != nil {
		v := 0.0
		if up {
			v = 1
		}
		m.dirUp.WithLabelValues(name).Set(v)
	}
}

// response counts a Response; sp must be the name of a registered service
// provider (admins bound that set), never a name taken from the request.
func (m *Metrics) response(sp, status string) {
	if m != nil {
		m.responses.WithLabelValues(sp, status).Inc()
	}
}

// observe records the latency of requests. Every label comes from a
// closed set, whatever the request says: the route is the chi pattern
// that matched (from the routing table, never the raw path), the method
// one of the standard ones or "other", the status code a known one or its
// class. A client sending random methods or paths therefore adds no
// series (TestMetricsCardinalityBounded).
func (m *Metrics) observe(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww, ok := w.(middleware.WrapResponseWriter)
		if !ok {
			ww = middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		}
		start := time.Now()
		m.inFlight.Inc()
		defer m.inFlight.Dec()
		next.ServeHTTP(ww, r)
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		m.latency.WithLabelValues(route, methodLabel(r.Method), codeLabel(ww.Status())).Observe(time.Since(start).Seconds())
	})
}

// knownMethods are the methods of RFC 9110 and PATCH (RFC 5789). net/http
// accepts any token as a method, so anything else is "other".
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodConnect: true, http.MethodOptions: true,
	http.MethodTrace: true,
}

// methodLabel is method if it is a standard one, else "other".
func methodLabel(method string) string {
	if knownMethods[method] {
		return method
	}
	return "other"
}

// codeLabel is the status code when net/http knows it (about 60 values),
// else its class ("4xx"), so a handler or proxy that invents codes cannot
// grow the series either. 0 means nothing was written: net/http sends 200.
func codeLabel(code int) string {
	switch {
	case code == 0:
		return "200"
	case http.StatusText(code) != "":
		return strconv.Itoa(code)
	case code >= 100 && code <= 599:
		return strconv.Itoa(code/100) + "xx"
	}
	return "other"
}
