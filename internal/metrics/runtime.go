package metrics

import (
	"math"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"runtime/pprof"
	"strings"
	"time"
)

// memStat is one go_memstats_* gauge or counter, read from
// runtime.MemStats. The names are client_golang's, so dashboards made for
// it keep working.
type memStat struct {
	name, help string
	kind       Kind
	value      func(*runtime.MemStats) float64
}

var memStats = []memStat{
	{"go_memstats_alloc_bytes", "Bytes of allocated heap objects (MemStats.Alloc).", KindGauge, func(m *runtime.MemStats) float64 { return float64(m.Alloc) }},
	{"go_memstats_alloc_bytes_total", "Bytes allocated for heap objects since the start, freed ones included (MemStats.TotalAlloc).", KindCounter, func(m *runtime.MemStats) float64 { return float64(m.TotalAlloc) }},
	{"go_memstats_buck_hash_sys_bytes", "Bytes of the profiling bucket hash table (MemStats.BuckHashSys).", KindGauge, func(m *runtime.MemStats) float64 { return float64(m.BuckHashSys) }},
	{"go_memstats_frees_total", "Heap objects freed since the start (MemStats.Frees).", KindCounter, func(m *runtime.MemStats) float64 { return float64(m.Frees) }},
	{"go_memstats_gc_sys_bytes", "Bytes of garbage collection metadata (MemStats.GCSys).", KindGauge, func(m *runtime.MemStats) float64 { return float64(m.GCSys) }},
	{"go_memstats_heap_alloc_bytes", "Bytes of allocated heap objects, as go_memstats_alloc_bytes (MemStats.HeapAlloc).", KindGauge, func(m *runtime.MemStats) float64 { return float64(m.HeapAlloc) }},
	{"go_memstats_heap_idle_bytes", "Bytes in idle (unused) heap spans (MemStats.HeapIdle).", KindGauge, func(m *runtime.MemStats) float64 { return float64(m.HeapIdle) }},
	{"go_memstats_heap_inuse_bytes", "Bytes in in-use heap spans (MemStats.HeapInuse).", KindGauge, func(m *runtime.MemStats) float64 { return float64(m.HeapInuse) }},
	{"go_memstats_heap_objects", "Allocated heap objects (MemStats.HeapObjects).", KindGauge, func(m *runtime.MemStats) float64 { return float64(m.HeapObjects) }},
	{"go_memstats_heap_released_bytes", "Bytes of physical memory returned to the OS (MemStats.HeapReleased).", KindGauge, func(m *runtime.MemStats) float64 { return float64(m.HeapReleased) }},
	{"go_memstats_heap_sys_bytes", "Bytes of heap memory obtained from the OS (MemStats.HeapSys).", KindGauge, func(m *runtime.MemStats) float64 { return float64(m.HeapSys) }},
	{"go_memstats_last_gc_time_seconds", "When the last garbage collection finished, in seconds since 1970 (MemStats.LastGC).", KindGauge, func(m *runtime.MemStats) float64 { return float64(m.LastGC) / 1e9 }},
	{"go_memstats_mallocs_total", "Heap objects allocated since the start (MemStats.Mallocs).", KindCounter, func(m *runtime.MemStats) float64 { return float64(m.Mallocs) }},
	{"go_memstats_mcache_inuse_bytes", "Bytes of allocated mcache structures (MemStats.MCacheInuse).", KindGauge, func(m *runtime.MemStats) float64 { return float64(m.MCacheInuse) }},
	{"go_memstats_mcache_sys_bytes", "Bytes obtained from the OS for mcache structures (MemStats.MCacheSys).", KindGauge, func(m *runtime.MemStats) float64 { return float64(m.MCacheSys) }},
	{"go_memstats_mspan_inuse_bytes", "Bytes of allocated mspan structures (MemStats.MSpanInuse).", KindGauge, func(m *runtime.MemStats) float64 { return float64(m.MSpanInuse) }},
	{"go_memstats_mspan_sys_bytes", "Bytes obtained from the OS for mspan structures (MemStats.MSpanSys).", KindGauge, func(m *runtime.MemStats) float64 { return float64(m.MSpanSys) }},
	{"go_memstats_next_gc_bytes", "Heap size at which the next garbage collection starts (MemStats.NextGC).", KindGauge, func(m *runtime.MemStats) float64 { return float64(m.NextGC) }},
	{"go_memstats_other_sys_bytes", "Bytes of other runtime allocations (MemStats.OtherSys).", KindGauge, func(m *runtime.MemStats) float64 { return float64(m.OtherSys) }},
	{"go_memstats_stack_inuse_bytes", "Bytes in stack spans (MemStats.StackInuse).", KindGauge, func(m *runtime.MemStats) float64 { return float64(m.StackInuse) }},
	{"go_memstats_stack_sys_bytes", "Bytes of stack memory obtained from the OS (MemStats.StackSys).", KindGauge, func(m *runtime.MemStats) float64 { return float64(m.StackSys) }},
	{"go_memstats_sys_bytes", "Bytes of memory obtained from the OS in all (MemStats.Sys).", KindGauge, func(m *runtime.MemStats) float64 { return float64(m.Sys) }},
}

// gcQuantiles are go_gc_duration_seconds' quantiles, client_golang's.
var gcQuantiles = []string{"0", "0.25", "0.5", "0.75", "1"}

// AddGo registers the Go runtime's metrics under client_golang's names:
// go_memstats_*, go_gc_duration_seconds (a summary of the garbage
// collector's stop-the-world pauses), go_goroutines, go_threads, go_info,
// go_sched_gomaxprocs_threads, go_gc_gogc_percent, go_gc_gomemlimit_bytes.
// A scrape reads runtime.MemStats once (a stop of the world of some
// microseconds).
func (r *Registry) AddGo() {
	names := []string{"go_gc_duration_seconds", "go_goroutines", "go_threads", "go_info",
		"go_sched_gomaxprocs_threads", "go_gc_gogc_percent", "go_gc_gomemlimit_bytes"}
	for _, m := range memStats {
		names = append(names, m.name)
	}
	r.register(names, collectGo)
}

func collectGo(s *scrape) {
	one := func(name, help string, kind Kind, v float64) { s.family(name, help, kind).add("", "", v) }

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	for _, m := range memStats {
		one(m.name, m.help, m.kind, m.value(&ms))
	}

	gc := debug.GCStats{PauseQuantiles: make([]time.Duration, len(gcQuantiles))}
	debug.ReadGCStats(&gc)
	f := s.family("go_gc_duration_seconds", "Stop-the-world pauses of the garbage collector, in seconds (quantiles over the last 256).", kindSummary)
	for i, q := range gcQuantiles {
		f.add("", `quantile="`+q+`"`, gc.PauseQuantiles[i].Seconds())
	}
	f.add("_sum", "", gc.PauseTotal.Seconds())
	f.add("_count", "", float64(gc.NumGC))

	one("go_goroutines", "Goroutines that exist now.", KindGauge, float64(runtime.NumGoroutine()))
	one("go_threads", "OS threads created.", KindGauge, float64(pprof.Lookup("threadcreate").Count()))
	var version strings.Builder
	writeLabel(&version, "version", runtime.Version())
	s.family("go_info", "The Go version idp was built with.", KindGauge).add("", version.String(), 1)
	one("go_sched_gomaxprocs_threads", "runtime.GOMAXPROCS: OS threads that may run Go code at once.", KindGauge, float64(runtime.GOMAXPROCS(0)))

	samples := []rtmetrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	rtmetrics.Read(samples)
	one("go_gc_gogc_percent", "GOGC: the heap growth that triggers a collection, in percent (100 unless set).", KindGauge, uint64Value(samples[0]))
	one("go_gc_gomemlimit_bytes", "GOMEMLIMIT: the runtime's soft memory limit, in bytes (math.MaxInt64 unless set).", KindGauge, uint64Value(samples[1]))
}

// uint64Value is a runtime/metrics sample's value, NaN if this Go does not
// know the metric.
func uint64Value(s rtmetrics.Sample) float64 {
	if s.Value.Kind() != rtmetrics.KindUint64 {
		return math.NaN()
	}
	return float64(s.Value.Uint64())
}
