// Package metrics keeps counters, gauges and histograms and serves them,
// with the Go runtime's and the process's usual metrics, in the Prometheus
// text exposition format 0.0.4.
//
// It stands in for prometheus/client_golang, whose dependencies (protobuf
// above all) were about a tenth of a cold build of idp and megabytes of its
// binary, for the dozen families flexidp exports. What it leaves out:
// summaries of its own, exemplars, native histograms, the protobuf and
// OpenMetrics formats.
package metrics

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// ContentType is the media type of the text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Kind is the TYPE of a metric family.
type Kind string

// The kinds a family may have.
const (
	KindCounter   Kind = "counter"
	KindGauge     Kind = "gauge"
	KindHistogram Kind = "histogram"
	kindSummary   Kind = "summary" // go_gc_duration_seconds only
)

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// Registry holds metric families. Its zero value is not usable: call
// NewRegistry.
type Registry struct {
	mu         sync.Mutex
	names      map[string]bool
	collectors []func(*scrape)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{names: map[string]bool{}}
}

// register adds a collector of the families names. A name that is not a
// metric name, or one registered already, is a programming error: it
// panics, like client_golang's MustRegister.
func (r *Registry) register(names []string, collect func(*scrape)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range names {
		if !metricName.MatchString(n) {
			panic(fmt.Sprintf("metrics: %q is not a metric name", n))
		}
		if r.names[n] {
			panic(fmt.Sprintf("metrics: %q registered twice", n))
		}
		r.names[n] = true
	}
	r.collectors = append(r.collectors, collect)
}

// NewFunc registers a family whose series are read at each scrape: read
// calls emit once per series, with the series' label names and values in
// pairs.
func (r *Registry) NewFunc(name, help string, kind Kind, read func(emit func(value float64, labelPairs ...string))) {
	r.register([]string{name}, func(s *scrape) {
		f := s.family(name, help, kind)
		read(func(v float64, pairs ...string) {
			if len(pairs)%2 != 0 {
				panic(fmt.Sprintf("metrics: %s: odd label pairs %q", name, pairs))
			}
			var b strings.Builder
			for i := 0; i < len(pairs); i += 2 {
				if i > 0 {
					b.WriteByte(',')
				}
				writeLabel(&b, pairs[i], pairs[i+1])
			}
			f.add("", b.String(), v)
		})
	})
}

// scrape is what one scrape collects, written once every collector ran.
type scrape struct {
	families []*family
}

type family struct {
	name, help string
	kind       Kind
	samples    []sample
}

type sample struct {
	suffix string // "", "_bucket", "_sum", "_count"
	labels string // rendered, without braces
	value  float64
}

func (s *scrape) family(name, help string, kind Kind) *family {
	f := &family{name: name, help: help, kind: kind}
	s.families = append(s.families, f)
	return f
}

func (f *family) add(suffix, labels string, v float64) {
	f.samples = append(f.samples, sample{suffix, labels, v})
}

// WriteTo writes every family, sorted by name, in the text format. A family
// without series (a vector nobody used yet) is left out, as client_golang
// does.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	collectors := slices.Clone(r.collectors)
	r.mu.Unlock()
	var s scrape
	for _, c := range collectors {
		c(&s)
	}
	slices.SortFunc(s.families, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	var b bytes.Buffer
	for _, f := range s.families {
		if len(f.samples) == 0 {
			continue
		}
		b.WriteString("# HELP ")
		b.WriteString(f.name)
		b.WriteByte(' ')
		helpEscaper.WriteString(&b, f.help)
		b.WriteString("\n# TYPE ")
		b.WriteString(f.name)
		b.WriteByte(' ')
		b.WriteString(string(f.kind))
		b.WriteByte('\n')
		for _, sm := range f.samples {
			b.WriteString(f.name)
			b.WriteString(sm.suffix)
			if sm.labels != "" {
				b.WriteByte('{')
				b.WriteString(sm.labels)
				b.WriteByte('}')
			}
			b.WriteByte(' ')
			b.WriteString(formatValue(sm.value))
			b.WriteByte('\n')
		}
	}
	return b.WriteTo(w)
}

// ServeHTTP serves a scrape, gzipped when the client accepts it (Prometheus
// does).
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var b bytes.Buffer
	if _, err := r.WriteTo(&b); err != nil { // a bytes.Buffer does not fail
		http.Error(w, "The metrics could not be gathered.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Add("Vary", "Accept-Encoding")
	if !acceptsGzip(req.Header.Get("Accept-Encoding")) {
		_, _ = b.WriteTo(w)
		return
	}
	h.Set("Content-Encoding", "gzip")
	gz := gzip.NewWriter(w)
	_, _ = b.WriteTo(gz)
	_ = gz.Close()
}

// acceptsGzip tells whether an Accept-Encoding header lists gzip with a
// non-zero weight.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q, ok := strings.CutPrefix(strings.TrimSpace(params), "q=")
		if !ok {
			return true
		}
		w, err := strconv.ParseFloat(strings.TrimSpace(q), 64)
		return err == nil && w > 0
	}
	return false
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	valueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// writeLabel writes name="value", the value escaped.
func writeLabel(b *strings.Builder, name, value string) {
	b.WriteString(name)
	b.WriteString(`="`)
	valueEscaper.WriteString(b, value)
	b.WriteByte('"')
}

// formatValue writes a sample value as client_golang does: the shortest
// representation that reads back the same, and +Inf, -Inf, NaN.
func formatValue(v float64) string {
	switch {
	case math.IsInf(v, +1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
