package metrics

import (
	"bytes"
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func scrapeText(t *testing.T, r *Registry) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := r.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestExposition pins the text format: families sorted by name, HELP and
// TYPE once each, label names sorted, values escaped, histogram buckets
// cumulative with le="+Inf", _sum and _count; a vector without series is
// left out. Prometheus' parser reads it back to the same values.
func TestExposition(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec("t_requests_total", "Requests, by \"kind\"\\path\nsecond line.", "path", "kind")
	c.WithLabelValues(`a"b\c`+"\nd", "x").Inc()
	c.WithLabelValues("/", "x").Inc()
	c.WithLabelValues("/", "x").Inc()
	r.NewCounterVec("t_unused_total", "Never used.", "x")
	g := r.NewGauge("t_in_flight", "In flight.")
	g.Inc()
	g.Inc()
	g.Dec()
	h := r.NewHistogramVec("t_seconds", "Latency.", []float64{0.5, 1, 2.5}, "route")
	for _, v := range []float64{0.1, 0.5, 0.7, 3} {
		h.WithLabelValues("/login").Observe(v)
	}
	r.NewFunc("t_pool", "Pool.", KindGauge, func(emit func(float64, ...string)) {
		emit(4, "state", "max")
		emit(math.Inf(+1), "state", "unbounded")
	})
	want := `# HELP t_in_flight In flight.
# TYPE t_in_flight gauge
t_in_flight 1
# HELP t_pool Pool.
# TYPE t_pool gauge
t_pool{state="max"} 4
t_pool{state="unbounded"} +Inf
# HELP t_requests_total Requests, by "kind"\\path\nsecond line.
# TYPE t_requests_total counter
t_requests_total{kind="x",path="/"} 2
t_requests_total{kind="x",path="a\"b\\c\nd"} 1
# HELP t_seconds Latency.
# TYPE t_seconds histogram
t_seconds_bucket{route="/login",le="0.5"} 2
t_seconds_bucket{route="/login",le="1"} 3
t_seconds_bucket{route="/login",le="2.5"} 3
t_seconds_bucket{route="/login",le="+Inf"} 4
t_seconds_sum{route="/login"} 4.3
t_seconds_count{route="/login"} 4
`
	got := scrapeText(t, r)
	if got != want {
		t.Fatalf("scrape:\n%s\nwant:\n%s", got, want)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(got))
	if err != nil {
		t.Fatalf("Prometheus' parser: %v", err)
	}
	var values []string
	for _, m := range mfs["t_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "path" {
				values = append(values, l.GetValue())
			}
		}
	}
	if len(values) != 2 || values[1] != `a"b\c`+"\nd" {
		t.Errorf("label values read back as %q", values)
	}
	if help := mfs["t_requests_total"].GetHelp(); help != "Requests, by \"kind\"\\path\nsecond line." {
		t.Errorf("HELP read back as %q", help)
	}
}

// TestRegisterRefuses: what client_golang's MustRegister refuses panics
// here too, at start-up rather than at the first scrape.
func TestRegisterRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(r *Registry)
	}{
		{"twice", func(r *Registry) { r.NewGauge("a", "A."); r.NewCounterVec("a", "A.") }},
		{"bad metric name", func(r *Registry) { r.NewGauge("a-b", "A.") }},
		{"bad label name", func(r *Registry) { r.NewGaugeVec("a", "A.", "b-c") }},
		{"reserved label", func(r *Registry) { r.NewHistogramVec("a", "A.", []float64{1}, "le") }},
		{"four labels", func(r *Registry) { r.NewCounterVec("a", "A.", "b", "c", "d", "e") }},
		{"buckets not increasing", func(r *Registry) { r.NewHistogramVec("a", "A.", []float64{1, 1}) }},
		{"infinite bucket", func(r *Registry) { r.NewHistogramVec("a", "A.", []float64{1, math.Inf(1)}) }},
		{"runtime twice", func(r *Registry) { r.AddGo(); r.AddGo() }},
		{"label values", func(r *Registry) { r.NewCounterVec("a", "A.", "b").WithLabelValues("x", "y") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tc.f(NewRegistry())
		})
	}
}

// TestConcurrentUse: observations and scrapes from many goroutines (run
// with -race) lose no count, and every scrape parses.
func TestConcurrentUse(t *testing.T) {
	r := NewRegistry()
	r.AddGo()
	h := r.NewHistogramVec("t_seconds", "Latency.", []float64{.01, .1, 1}, "route")
	c := r.NewCounterVec("t_total", "Total.", "route")
	g := r.NewGauge("t_in_flight", "In flight.")
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			route := []string{"/a", "/b"}[w%2]
			for i := range each {
				g.Inc()
				h.WithLabelValues(route).Observe(float64(i%4) / 10)
				c.WithLabelValues(route).Inc()
				g.Dec()
			}
		})
	}
	for range 20 {
		parser := expfmt.NewTextParser(model.LegacyValidation)
		if _, err := parser.TextToMetricFamilies(strings.NewReader(scrapeText(t, r))); err != nil {
			t.Fatalf("a scrape during the observations does not parse: %v", err)
		}
	}
	wg.Wait()
	var n uint64
	for _, route := range []string{"/a", "/b"} {
		n += c.WithLabelValues(route).Value()
	}
	text := scrapeText(t, r)
	if n != workers*each || !strings.Contains(text, `t_seconds_count{route="/a"} 2000`) || !strings.Contains(text, "t_in_flight 0\n") {
		t.Errorf("counted %d, want %d; scrape:\n%s", n, workers*each, text)
	}
}

// TestServeHTTPGzip: a scraper that accepts gzip gets the scrape gzipped,
// one that refuses it (q=0) or says nothing gets it plain.
func TestServeHTTPGzip(t *testing.T) {
	r := NewRegistry()
	r.NewGauge("t_up", "Up.").Set(1)
	for _, tc := range []struct {
		accept string
		gzip   bool
	}{
		{"", false},
		{"gzip", true},
		{"deflate, GZIP;q=0.5", true},
		{"gzip;q=0", false},
		{"identity", false},
	} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("Accept-Encoding", tc.accept)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		body := w.Body.Bytes()
		if gz := w.Header().Get("Content-Encoding") == "gzip"; gz != tc.gzip {
			t.Errorf("Accept-Encoding %q: gzipped %v, want %v", tc.accept, gz, tc.gzip)
		} else if gz {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		if ct := w.Header().Get("Content-Type"); ct != ContentType || !strings.Contains(string(body), "t_up 1\n") {
			t.Errorf("Accept-Encoding %q: Content-Type %q, body %q", tc.accept, ct, body)
		}
	}
}

// TestProcessFromProc reads a fixture /proc: a command name with spaces
// and parentheses, clock ticks, pages, limits ("unlimited" included) and
// the network counters of every interface.
func TestProcessFromProc(t *testing.T) {
	procRoot = "testdata/proc"
	t.Cleanup(func() { procRoot = "/proc" })
	r := NewRegistry()
	r.AddProcess()
	page := float64(os.Getpagesize())
	want := map[string]float64{
		"process_cpu_seconds_total":            3,                // (250+50) ticks
		"process_start_time_seconds":           1796007155 + 300, // btime + 30000 ticks
		"process_virtual_memory_bytes":         3133440,
		"process_resident_memory_bytes":        362 * page,
		"process_open_fds":                     3,              // testdata/proc/self/fd
		"process_max_fds":                      1024,           // the soft limit
		"process_virtual_memory_max_bytes":     math.MaxUint64, // unlimited
		"process_network_receive_bytes_total":  1024,           // lo + eth0
		"process_network_transmit_bytes_total": 2030,
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(scrapeText(t, r)))
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range want {
		mf := mfs[name]
		if mf == nil {
			t.Errorf("%s missing", name)
			continue
		}
		m := mf.GetMetric()[0]
		got := m.GetGauge().GetValue() + m.GetCounter().GetValue()
		if got != v {
			t.Errorf("%s = %g, want %g", name, got, v)
		}
	}
	if len(mfs) != len(want) {
		t.Errorf("%d families, want %d", len(mfs), len(want))
	}

	// Without /proc (another OS), the families are left out, not zero.
	procRoot = t.TempDir()
	if text := scrapeText(t, r); text != "" {
		t.Errorf("scrape without /proc:\n%s", text)
	}
}
