package metrics

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Counter is a count that only goes up.
type Counter struct{ n atomic.Uint64 }

// Inc adds one.
func (c *Counter) Inc() { c.n.Add(1) }

// Value is the count.
func (c *Counter) Value() uint64 { return c.n.Load() }

// Gauge is a value that goes up and down.
type Gauge struct{ bits atomic.Uint64 }

// Set sets the value.
func (g *Gauge) Set(v float64) { g.bits.Store(math.Float64bits(v)) }

// Add adds d (which may be negative).
func (g *Gauge) Add(d float64) {
	for {
		old := g.bits.Load()
		if g.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

// Inc adds one.
func (g *Gauge) Inc() { g.Add(1) }

// Dec subtracts one.
func (g *Gauge) Dec() { g.Add(-1) }

// Value is the value.
func (g *Gauge) Value() float64 { return math.Float64frombits(g.bits.Load()) }

// Histogram counts observations in buckets of fixed upper bounds.
type Histogram struct {
	upper  []float64       // shared by the vector's series
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf's
	sum    Gauge
}

// Observe records v.
func (h *Histogram) Observe(v float64) {
	// The first bucket whose upper bound is v or more: bounds are inclusive.
	h.counts[sort.SearchFloat64s(h.upper, v)].Add(1)
	h.sum.Add(v)
}

// maxLabels bounds a vector's label names, so a series' key is an array
// (no allocation to look it up).
const maxLabels = 3

// vec is a family's series by label values.
type vec[T any] struct {
	name   string
	labels []string // names, as given
	order  []int    // indexes into labels, by name: how series render
	init   func(*T) // if not nil, prepares a new series

	mu     sync.RWMutex
	series map[[maxLabels]string]*series[T]
}

type series[T any] struct {
	labels string // rendered, names sorted
	m      T
}

func newVec[T any](name string, labels []string, init func(*T)) vec[T] {
	if len(labels) > maxLabels {
		panic(fmt.Sprintf("metrics: %s: more than %d labels", name, maxLabels))
	}
	order := make([]int, len(labels))
	for i, l := range labels {
		if !labelName.MatchString(l) || strings.HasPrefix(l, "__") || l == "le" || l == "quantile" {
			panic(fmt.Sprintf("metrics: %s: %q is not a label name", name, l))
		}
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(labels[a], labels[b]) })
	return vec[T]{name: name, labels: labels, order: order, init: init, series: map[[maxLabels]string]*series[T]{}}
}

// with is the series of values (one per label, in the order the labels
// were given), made on first use.
func (v *vec[T]) with(values []string) *T {
	if len(values) != len(v.labels) {
		panic(fmt.Sprintf("metrics: %s: %d label values for %d labels", v.name, len(values), len(v.labels)))
	}
	var key [maxLabels]string
	copy(key[:], values)
	v.mu.RLock()
	s := v.series[key]
	v.mu.RUnlock()
	if s != nil {
		return &s.m
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if s = v.series[key]; s == nil {
		var b strings.Builder
		for i, j := range v.order {
			if i > 0 {
				b.WriteByte(',')
			}
			writeLabel(&b, v.labels[j], values[j])
		}
		s = &series[T]{labels: b.String()}
		if v.init != nil {
			v.init(&s.m)
		}
		v.series[key] = s
	}
	return &s.m
}

// each calls f for every series, sorted by labels.
func (v *vec[T]) each(f func(labels string, m *T)) {
	v.mu.RLock()
	all := make([]*series[T], 0, len(v.series))
	for _, s := range v.series {
		all = append(all, s)
	}
	v.mu.RUnlock()
	slices.SortFunc(all, func(a, b *series[T]) int { return strings.Compare(a.labels, b.labels) })
	for _, s := range all {
		f(s.labels, &s.m)
	}
}

// CounterVec is a family of counters by label values.
type CounterVec struct{ v vec[Counter] }

// NewCounterVec registers a counter family with up to three labels.
func (r *Registry) NewCounterVec(name, help string, labels ...string) *CounterVec {
	c := &CounterVec{newVec[Counter](name, labels, nil)}
	r.register([]string{name}, func(s *scrape) {
		f := s.family(name, help, KindCounter)
		c.v.each(func(labels string, m *Counter) { f.add("", labels, float64(m.Value())) })
	})
	return c
}

// WithLabelValues is the counter of these label values, in the order the
// labels were registered.
func (c *CounterVec) WithLabelValues(values ...string) *Counter { return c.v.with(values) }

// GaugeVec is a family of gauges by label values.
type GaugeVec struct{ v vec[Gauge] }

// NewGaugeVec registers a gauge family with up to three labels.
func (r *Registry) NewGaugeVec(name, help string, labels ...string) *GaugeVec {
	g := &GaugeVec{newVec[Gauge](name, labels, nil)}
	r.register([]string{name}, func(s *scrape) {
		f := s.family(name, help, KindGauge)
		g.v.each(func(labels string, m *Gauge) { f.add("", labels, m.Value()) })
	})
	return g
}

// WithLabelValues is the gauge of these label values.
func (g *GaugeVec) WithLabelValues(values ...string) *Gauge { return g.v.with(values) }

// NewGauge registers a gauge without labels.
func (r *Registry) NewGauge(name, help string) *Gauge {
	return r.NewGaugeVec(name, help).WithLabelValues()
}

// HistogramVec is a family of histograms by label values.
type HistogramVec struct{ v vec[Histogram] }

// NewHistogramVec registers a histogram family with the given bucket upper
// bounds (increasing; +Inf is implied) and up to three labels.
func (r *Registry) NewHistogramVec(name, help string, buckets []float64, labels ...string) *HistogramVec {
	for i, b := range buckets {
		if math.IsNaN(b) || math.IsInf(b, 0) || i > 0 && b <= buckets[i-1] {
			panic(fmt.Sprintf("metrics: %s: buckets %v are not finite and increasing", name, buckets))
		}
	}
	upper := slices.Clone(buckets)
	bounds := make([]string, len(upper)+1)
	for i, u := range upper {
		bounds[i] = formatValue(u)
	}
	bounds[len(upper)] = "+Inf"
	h := &HistogramVec{newVec(name, labels, func(h *Histogram) {
		h.upper, h.counts = upper, make([]atomic.Uint64, len(upper)+1)
	})}
	r.register([]string{name}, func(s *scrape) {
		f := s.family(name, help, KindHistogram)
		h.v.each(func(labels string, m *Histogram) {
			sep := ""
			if labels != "" {
				sep = ","
			}
			// _count is the +Inf bucket, so the two agree even while
			// requests are observed during the scrape.
			var total uint64
			for i := range m.counts {
				total += m.counts[i].Load()
				f.add("_bucket", labels+sep+`le="`+bounds[i]+`"`, float64(total))
			}
			f.add("_sum", labels, m.sum.Value())
			f.add("_count", labels, float64(total))
		})
	})
	return h
}

// WithLabelValues is the histogram of these label values.
func (h *HistogramVec) WithLabelValues(values ...string) *Histogram { return h.v.with(values) }
