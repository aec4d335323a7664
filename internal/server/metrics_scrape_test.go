package server_test

import (
	"math"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/flexidp/flexidp/internal/samltest"
)

// scrapeFamilies GETs /metrics and reads it with Prometheus' own text
// parser (a test dependency only: idp writes the format itself).
func scrapeFamilies(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testMetricsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q, want the text format 0.0.4", ct)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the scrape does not parse: %v", err)
	}
	for name, mf := range mfs {
		checkFamily(t, name, mf)
	}
	return mfs
}

// checkFamily fails the test unless the family has a HELP and a TYPE,
// counters (and only they) end in _total, and every histogram series has
// increasing buckets ending with le="+Inf" that counts all its samples.
func checkFamily(t *testing.T, name string, mf *dto.MetricFamily) {
	t.Helper()
	if mf.GetHelp() == "" {
		t.Errorf("%s: no HELP", name)
	}
	kind := mf.GetType()
	if kind == dto.MetricType_UNTYPED {
		t.Errorf("%s: no TYPE", name)
	}
	if (kind == dto.MetricType_COUNTER) != strings.HasSuffix(name, "_total") {
		t.Errorf("%s: TYPE %s, but counters and only they end in _total", name, kind)
	}
	if len(mf.GetMetric()) == 0 {
		t.Errorf("%s: a family without series", name)
	}
	if kind != dto.MetricType_HISTOGRAM {
		return
	}
	for _, m := range mf.GetMetric() {
		h := m.GetHistogram()
		b := h.GetBucket()
		if len(b) == 0 || !math.IsInf(b[len(b)-1].GetUpperBound(), +1) {
			t.Errorf("%s%v: no le=\"+Inf\" bucket", name, m.GetLabel())
			continue
		}
		if b[len(b)-1].GetCumulativeCount() != h.GetSampleCount() {
			t.Errorf("%s%v: le=\"+Inf\" counts %d, _count %d", name, m.GetLabel(), b[len(b)-1].GetCumulativeCount(), h.GetSampleCount())
		}
		for i := 1; i < len(b); i++ {
			if b[i].GetUpperBound() <= b[i-1].GetUpperBound() || b[i].GetCumulativeCount() < b[i-1].GetCumulativeCount() {
				t.Errorf("%s%v: bucket %d (le=%g, %d) after (le=%g, %d)", name, m.GetLabel(), i,
					b[i].GetUpperBound(), b[i].GetCumulativeCount(), b[i-1].GetUpperBound(), b[i-1].GetCumulativeCount())
			}
		}
	}
}

// sampleValue is the value of the series of mfs[name] with exactly these
// labels (a histogram's: its sample count), 0 if there is none.
func sampleValue(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	for _, m := range mfs[name].GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if len(got) != len(labels) {
			continue
		}
		same := true
		for k, v := range labels {
			same = same && got[k] == v
		}
		if !same {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

// TestMetricsScrape reads real scrapes of a running IdP with Prometheus'
// parser: every family is well-formed, the documented families are there
// with their types (the Go runtime's and the process's included), and a
// sign-in and a Response move their counters.
func TestMetricsScrape(t *testing.T) {
	h := newTestIdP(t, idpOptions{MetricsToken: testMetricsToken})
	before := scrapeFamilies(t, h.URL)

	sp := samltest.FlexSP(t, h.URL)
	b := samltest.NewBrowser(t)
	redirect, reqID := samltest.AuthnRedirect(t, sp, "", nil)
	status, body := b.Get(redirect)
	samltest.WantStatus(t, "SSO", status, http.StatusOK, body)
	status, body = b.Login(h.URL, body, "sam.supervisor@example.com", password)
	samltest.WantStatus(t, "login", status, http.StatusOK, body)
	samltest.Accepts(t, sp, samltest.Form(t, body), reqID)

	after := scrapeFamilies(t, h.URL)
	for name, kind := range map[string]dto.MetricType{
		"flexidp_signins_total":                    dto.MetricType_COUNTER,
		"flexidp_saml_responses_total":             dto.MetricType_COUNTER,
		"flexidp_http_request_duration_seconds":    dto.MetricType_HISTOGRAM,
		"flexidp_http_requests_in_flight":          dto.MetricType_GAUGE,
		"flexidp_password_hash_queue_depth":        dto.MetricType_GAUGE,
		"flexidp_password_hash_wait_seconds_total": dto.MetricType_COUNTER,
		"flexidp_password_hash_slots":              dto.MetricType_GAUGE,
		"go_goroutines":                            dto.MetricType_GAUGE,
		"go_gc_duration_seconds":                   dto.MetricType_SUMMARY,
		"go_memstats_alloc_bytes_total":            dto.MetricType_COUNTER, // read by ./bench
		"go_memstats_mallocs_total":                dto.MetricType_COUNTER, // read by ./bench
		"go_memstats_heap_inuse_bytes":             dto.MetricType_GAUGE,
		"go_info":                                  dto.MetricType_GAUGE,
		"process_cpu_seconds_total":                dto.MetricType_COUNTER,
		"process_resident_memory_bytes":            dto.MetricType_GAUGE,
		"process_start_time_seconds":               dto.MetricType_GAUGE,
		"process_open_fds":                         dto.MetricType_GAUGE,
		"process_max_fds":                          dto.MetricType_GAUGE,
	} {
		if mf := after[name]; mf == nil || mf.GetType() != kind {
			t.Errorf("%s: want a %s family, got %v", name, kind, mf.GetType())
		}
	}
	if got := after["flexidp_http_request_duration_seconds"].GetMetric()[0].GetHistogram().GetBucket(); len(got) != 12 ||
		got[0].GetUpperBound() != .005 || got[10].GetUpperBound() != 10 {
		t.Errorf("flexidp_http_request_duration_seconds buckets %v, want .005 … 10 and +Inf", got)
	}

	for _, tc := range []struct {
		name   string
		labels map[string]string
		delta  float64
	}{
		{"flexidp_signins_total", map[string]string{"result": "success"}, 1},
		{"flexidp_saml_responses_total", map[string]string{"sp": "flex", "status": "success"}, 1},
		{"flexidp_http_request_duration_seconds", map[string]string{"route": "/login", "method": "POST", "code": "200"}, 1},
		{"flexidp_http_request_duration_seconds", map[string]string{"route": "/saml/sso", "method": "GET", "code": "200"}, 1},
	} {
		if got := sampleValue(after, tc.name, tc.labels) - sampleValue(before, tc.name, tc.labels); got != tc.delta {
			t.Errorf("%s%v moved by %g over one sign-in, want %g", tc.name, tc.labels, got, tc.delta)
		}
	}
	if sampleValue(after, "go_memstats_mallocs_total", nil) <= sampleValue(before, "go_memstats_mallocs_total", nil) {
		t.Error("go_memstats_mallocs_total did not grow over a sign-in")
	}
	if rss := sampleValue(after, "process_resident_memory_bytes", nil); rss < 1<<20 {
		t.Errorf("process_resident_memory_bytes = %g, not a process's", rss)
	}
}
