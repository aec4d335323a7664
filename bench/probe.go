package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/flexidp/flexidp/bench/internal/idpserve"
	"github.com/jackc/pgx/v5"
)

// counters are cumulative figures read at one moment; a phase reports
// the difference between its end and its start (minus).
type counters struct {
	serverCPU        float64 // server process CPU-seconds (utime+stime)
	selfCPU          float64 // this process (the agents)
	serverPeakRSSKiB int64

	// mallocs and allocBytes are the server's cumulative heap allocations
	// (runtime.MemStats Mallocs and TotalAlloc); NaN when unknown.
	mallocs, allocBytes float64

	// PostgreSQL, NaN when there is no PostgreSQL to read (SQLite, the
	// peer) or it cannot be read (--database-url without
	// pg_stat_statements, or on another host).
	pgCPU      float64 // CPU-seconds of every PostgreSQL process (/proc)
	pgExecMS   float64 // pg_stat_statements total_exec_time, milliseconds
	statements float64 // pg_stat_statements calls, BEGIN/COMMIT/ROLLBACK excluded
	txControl  float64 // BEGIN, COMMIT and ROLLBACK statements
	writeXacts float64 // transaction IDs assigned: transactions that wrote, i.e. commits that reach the WAL

	// ops is set on a difference: the operations it paid for.
	ops int
}

func (c counters) minus(b counters) counters {
	return counters{
		serverCPU: c.serverCPU - b.serverCPU, selfCPU: c.selfCPU - b.selfCPU, serverPeakRSSKiB: c.serverPeakRSSKiB,
		mallocs: c.mallocs - b.mallocs, allocBytes: c.allocBytes - b.allocBytes,
		pgCPU: c.pgCPU - b.pgCPU, pgExecMS: c.pgExecMS - b.pgExecMS, statements: c.statements - b.statements,
		txControl: c.txControl - b.txControl, writeXacts: c.writeXacts - b.writeXacts,
	}
}

// plus adds two differences (two slices of a phase).
func (c counters) plus(b counters) counters {
	return counters{
		serverCPU: c.serverCPU + b.serverCPU, selfCPU: c.selfCPU + b.selfCPU, serverPeakRSSKiB: max(c.serverPeakRSSKiB, b.serverPeakRSSKiB),
		mallocs: c.mallocs + b.mallocs, allocBytes: c.allocBytes + b.allocBytes,
		pgCPU: c.pgCPU + b.pgCPU, pgExecMS: c.pgExecMS + b.pgExecMS, statements: c.statements + b.statements,
		txControl: c.txControl + b.txControl, writeXacts: c.writeXacts + b.writeXacts, ops: c.ops + b.ops,
	}
}

// per divides v by the operations the difference paid for.
func (c counters) per(v float64) float64 {
	if c.ops == 0 {
		return math.NaN()
	}
	return v / float64(c.ops)
}

// snapshot reads every counter of the load's target.
func (l *load) snapshot() counters {
	c := counters{mallocs: math.NaN(), allocBytes: math.NaN(), pgCPU: math.NaN(), pgExecMS: math.NaN(),
		statements: math.NaN(), txControl: math.NaN(), writeXacts: math.NaN()}
	srv, _ := readProc(strconv.Itoa(l.t.pid))
	self, _ := readProc("self")
	c.serverCPU, c.serverPeakRSSKiB, c.selfCPU = srv.cpuSeconds, srv.peakRSSKiB, self.cpuSeconds
	if l.t.memStats != nil {
		if m, b, err := l.t.memStats(); err == nil {
			c.mallocs, c.allocBytes = m, b
		}
	}
	if l.t.db != nil {
		l.t.db.read(l.ctx, &c)
	}
	return c
}

// dbProbe reads PostgreSQL's own counters: pg_stat_statements (installed
// by the benchmark in the throwaway cluster), the transaction IDs
// assigned, and the CPU time of the server's processes from /proc when
// PostgreSQL runs on this machine (postmasterPID > 0).
type dbProbe struct {
	conn          *pgx.Conn
	statements    bool // pg_stat_statements is there
	postmasterPID int
}

// newDBProbe connects to dbURL and enables what it can: it says what is
// missing in note.
func newDBProbe(ctx context.Context, dbURL, dataDir string) (p *dbProbe, note string, err error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, "", err
	}
	p = &dbProbe{conn: conn}
	var notes []string
	if _, err := conn.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		notes = append(notes, "no pg_stat_statements ("+err.Error()+"): statements per operation not counted")
	} else if _, err := conn.Exec(ctx, `SELECT pg_stat_statements_reset()`); err != nil {
		notes = append(notes, "pg_stat_statements not readable: "+err.Error())
	} else {
		p.statements = true
	}
	if dataDir != "" {
		if b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid")); err == nil {
			first, _, _ := strings.Cut(string(b), "\n")
			p.postmasterPID, _ = strconv.Atoi(strings.TrimSpace(first))
		}
	}
	if p.postmasterPID == 0 {
		notes = append(notes, "PostgreSQL is not a local throwaway cluster: its CPU time is not read")
	}
	return p, strings.Join(notes, "; "), nil
}

func (p *dbProbe) close() { _ = p.conn.Close(context.Background()) }

// probeTag marks the probe's own statements, which pg_stat_statements
// would otherwise count.
const probeTag = "/* flexidp-bench-probe */"

func (p *dbProbe) read(ctx context.Context, c *counters) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// pg_current_snapshot's xmax is the next transaction ID: it advances by
	// one for every transaction that wrote (read-only ones take none), and
	// the probe itself takes none.
	var xmax int64
	if err := p.conn.QueryRow(ctx, probeTag+` SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint`).Scan(&xmax); err == nil {
		c.writeXacts = float64(xmax)
	}
	if p.statements {
		var calls, control, execMS float64
		err := p.conn.QueryRow(ctx, probeTag+` SELECT
				coalesce(sum(calls) FILTER (WHERE NOT control), 0)::float8,
				coalesce(sum(calls) FILTER (WHERE control), 0)::float8,
				coalesce(sum(total_exec_time), 0)::float8
			FROM (SELECT calls, total_exec_time,
				upper(split_part(ltrim(query), ' ', 1)) IN ('BEGIN', 'COMMIT', 'ROLLBACK', 'START') AS control
				FROM pg_stat_statements WHERE query NOT LIKE '%flexidp-bench-probe%' AND toplevel) q`).Scan(&calls, &control, &execMS)
		if err == nil {
			c.statements, c.txControl, c.pgExecMS = calls, control, execMS
		}
	}
	if p.postmasterPID > 0 {
		if cpu, err := processTreeCPU(p.postmasterPID); err == nil {
			c.pgCPU = cpu
		}
	}
}

// processTreeCPU is the CPU-seconds of a process and its children, the
// living (each one's utime+stime) and the exited ones it reaped (its
// cutime+cstime): for the postmaster, every backend and background
// process PostgreSQL ran.
func processTreeCPU(pid int) (float64, error) {
	f, err := procStatFields(strconv.Itoa(pid))
	if err != nil {
		return 0, err
	}
	total := ticks(f, 11) + ticks(f, 12) + ticks(f, 13) + ticks(f, 14)
	dirs, _ := os.ReadDir("/proc")
	want := strconv.Itoa(pid)
	for _, d := range dirs {
		if d.Name()[0] < '0' || d.Name()[0] > '9' {
			continue
		}
		cf, err := procStatFields(d.Name())
		if err != nil || cf[1] != want {
			continue
		}
		total += ticks(cf, 11) + ticks(cf, 12)
	}
	return total, nil
}

// procStatFields returns the fields of /proc/<pid>/stat after the command
// name (field 3, the state, is index 0; utime, field 14, is index 11).
func procStatFields(pid string) ([]string, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return nil, err
	}
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return nil, fmt.Errorf("/proc/%s/stat: too few fields", pid)
	}
	return f, nil
}

func ticks(f []string, i int) float64 {
	v, _ := strconv.ParseFloat(f[i], 64)
	return v / clockTicks
}

// currentRSSKiB is a process's resident memory now (VmRSS).
func currentRSSKiB(pid int) int64 { return idpserve.Status(pid)["VmRSS"] }

// promMemStats reads go_memstats_mallocs_total and
// go_memstats_alloc_bytes_total from a Prometheus text endpoint (idp
// serve's /metrics on IDP_METRICS_LISTEN).
func promMemStats(url string) func() (float64, float64, error) {
	return func() (float64, float64, error) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, 0, err
		}
		defer resp.Body.Close()
		mallocs, bytes := math.NaN(), math.NaN()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			name, v, ok := strings.Cut(sc.Text(), " ")
			if !ok {
				continue
			}
			switch name {
			case "go_memstats_mallocs_total":
				mallocs, _ = strconv.ParseFloat(v, 64)
			case "go_memstats_alloc_bytes_total":
				bytes, _ = strconv.ParseFloat(v, 64)
			}
		}
		if math.IsNaN(mallocs) || math.IsNaN(bytes) {
			return 0, 0, errors.New("no go_memstats in " + url)
		}
		return mallocs, bytes, sc.Err()
	}
}

// jsonMemStats reads the peer's /bench/memstats.
func jsonMemStats(url string) func() (float64, float64, error) {
	return func() (float64, float64, error) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, 0, err
		}
		defer resp.Body.Close()
		var m struct{ Mallocs, TotalAlloc uint64 }
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			return 0, 0, err
		}
		return float64(m.Mallocs), float64(m.TotalAlloc), nil
	}
}
