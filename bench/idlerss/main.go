// Command idlerss measures what an idle `idp serve` holds in memory
// (docs/performance.md, "Idle memory").
//
//	go run ./bench/idlerss [--idp BINARY] [--backends sqlite,postgres] [--runs 3] [--wait 5s]
//	                       [--migrated] [--maps 12] [--floor 0] [--heap DIR] [--godebug memprofilerate=1] [--inittrace]
//
// For each backend and run it starts `idp serve` on a fresh database (a
// new SQLite file; a new database in one throwaway PostgreSQL cluster,
// internal/store/pgtest), built and started as the load benchmark does it
// (bench/internal/idpserve: the shipped build, the same environment:
// GOMAXPROCS=1, IDP_HASH_MEMORY_MIB=256, JSON logs, a metrics listener,
// IDP_TRUST_PROXY), waits for /readyz and --wait more, and prints VmRSS,
// RssAnon and RssFile (/proc/PID/status), then the --maps largest
// mappings by Rss (/proc/PID/smaps). With the default --floor 0 no
// sign-in time floor is calibrated in the background, so what is read
// is the idle server, not a calibration hash. --migrated migrates the
// database first, as the load benchmark does: the server then starts on
// a current schema, as a restarted one does. --heap DIR saves an idle
// heap profile per run (IDP_PPROF on the metrics listener); --inittrace
// prints the server's GODEBUG=inittrace=1 lines of the first run, the
// heaviest first.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flexidp/flexidp/bench/internal/idpserve"
	"github.com/flexidp/flexidp/internal/store/pgtest"
)

type options struct {
	idp       string
	backends  []string
	runs      int
	wait      time.Duration
	maps      int
	floor     string
	migrated  bool
	heapDir   string
	inittrace bool
	godebug   string
	pages     int
	attach    int
}

func main() {
	var o options
	var backends string
	flag.StringVar(&o.idp, "idp", "", "idp binary to measure (default: built as the Dockerfile ships it, as the load benchmark builds it)")
	flag.StringVar(&backends, "backends", "sqlite,postgres", "stores to measure, comma-separated")
	flag.IntVar(&o.runs, "runs", 3, "servers started per backend")
	flag.DurationVar(&o.wait, "wait", 5*time.Second, "idle time after /readyz before reading memory")
	flag.IntVar(&o.maps, "maps", 12, "largest mappings (smaps Rss) printed per run")
	flag.BoolVar(&o.migrated, "migrated", false, "migrate the database (idp migrate) before starting the server, as the load benchmark seeds it: a restart, not a first start")
	flag.StringVar(&o.floor, "floor", "0", "IDP_SIGNIN_TIME_FLOOR of the server (auto calibrates in the background)")
	flag.StringVar(&o.heapDir, "heap", "", "save an idle heap profile per run into this directory")
	flag.StringVar(&o.godebug, "godebug", "", "GODEBUG of the server, e.g. memprofilerate=1 for an exact --heap profile")
	flag.IntVar(&o.pages, "pages", 0, "attribute the binary's resident pages (/proc/PID/pagemap) to sections and to this many packages")
	flag.BoolVar(&o.inittrace, "inittrace", false, "print the heaviest package inits (GODEBUG=inittrace=1) of the first run")
	flag.IntVar(&o.attach, "attach", 0, "only read the memory of this running idp process (with --idp naming its binary)")
	flag.Parse()
	if o.attach > 0 {
		report(o, o.attach)
		return
	}
	o.backends = strings.Split(backends, ",")
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "idlerss:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	dir, err := os.MkdirTemp("", "flexidp-idlerss-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if o.idp == "" {
		o.idp = filepath.Join(dir, "idp")
		if err := idpserve.Build(context.Background(), o.idp); err != nil {
			return err
		}
	}
	if fi, err := os.Stat(o.idp); err == nil {
		fmt.Printf("binary %s, %.1f MiB\n", o.idp, float64(fi.Size())/(1<<20))
	}
	for _, b := range o.backends {
		var dbURL func(n int) (string, error)
		switch b {
		case "sqlite":
			dbURL = func(n int) (string, error) {
				return "sqlite://" + filepath.Join(dir, fmt.Sprintf("idle-%d.db", n)), nil
			}
		case "postgres":
			c, err := pgtest.StartCluster()
			if err != nil {
				return fmt.Errorf("start PostgreSQL: %w", err)
			}
			defer c.Stop()
			dbURL = func(n int) (string, error) { return newDatabase(c.URL(), fmt.Sprintf("idle_%d", n)) }
		default:
			return fmt.Errorf("unknown backend %q (sqlite or postgres)", b)
		}
		var rss, anon, file []int64
		for n := range o.runs {
			u, err := dbURL(n)
			if err != nil {
				return err
			}
			m, err := measure(o, dir, b, n, u)
			if err != nil {
				return err
			}
			rss, anon, file = append(rss, m.status["VmRSS"]), append(anon, m.status["RssAnon"]), append(file, m.status["RssFile"])
		}
		fmt.Printf("%s over %d runs (min / median / max): VmRSS %s, RssAnon %s, RssFile %s\n\n",
			b, o.runs, spread(rss), spread(anon), spread(file))
	}
	return nil
}

// newDatabase creates database name in the cluster at admin and returns
// its URL.
func newDatabase(admin, name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

type memory struct {
	status map[string]int64 // VmRSS, RssAnon, RssFile, RssShmem in KiB
}

// measure starts idp serve on dbURL, waits until it is ready and idle,
// prints its memory and stops it.
func measure(o options, dir, backend string, n int, dbURL string) (memory, error) {
	addr, err := idpserve.FreeAddr()
	if err != nil {
		return memory{}, err
	}
	metrics, err := idpserve.FreeAddr()
	if err != nil {
		return memory{}, err
	}
	if o.migrated {
		m := exec.Command(o.idp, "migrate")
		m.Env = []string{"PATH=" + os.Getenv("PATH"), "IDP_DATABASE_URL=" + dbURL}
		if out, err := m.CombinedOutput(); err != nil {
			return memory{}, fmt.Errorf("idp migrate: %v\n%s", err, out)
		}
	}
	cmd := exec.Command(o.idp, "serve")
	cmd.Env = append(idpserve.Env(idpserve.Config{Addr: addr, MetricsAddr: metrics, DatabaseURL: dbURL, CPUs: 1, HashMemoryMiB: 256}),
		"IDP_SIGNIN_TIME_FLOOR="+o.floor)
	if o.heapDir != "" {
		cmd.Env = append(cmd.Env, "IDP_PPROF=true")
	}
	trace := o.inittrace && n == 0
	godebug := o.godebug
	if trace {
		godebug = strings.Trim(godebug+",inittrace=1", ",")
	}
	if godebug != "" {
		cmd.Env = append(cmd.Env, "GODEBUG="+godebug)
	}
	logPath := filepath.Join(dir, fmt.Sprintf("%s-%d.log", backend, n))
	logf, err := os.Create(logPath)
	if err != nil {
		return memory{}, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return memory{}, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	start := time.Now()
	if err := waitReady("http://"+addr+"/readyz", 60*time.Second); err != nil {
		b, _ := os.ReadFile(logPath)
		return memory{}, fmt.Errorf("%s: %w\n%s", backend, err, b)
	}
	ready := time.Since(start)
	time.Sleep(o.wait) // idle is what is measured: nothing to wait for but time
	fmt.Printf("%s run %d: ready in %s; after %s idle: ", backend, n, ready.Round(time.Millisecond), o.wait)
	pid := cmd.Process.Pid
	m := report(o, pid)
	if o.heapDir != "" {
		path := filepath.Join(o.heapDir, fmt.Sprintf("heap-%s-%d.pb.gz", backend, n))
		if err := save("http://"+metrics+"/debug/pprof/heap", path); err != nil {
			fmt.Printf("  heap profile: %v\n", err)
		} else {
			fmt.Printf("  heap profile: %s (go tool pprof -sample_index=inuse_space %s)\n", path, path)
		}
	}
	if trace {
		printInitTrace(logPath)
	}
	return m, nil
}

// report prints the memory of process pid: its status lines, then the
// largest mappings and the binary's resident pages when asked.
func report(o options, pid int) memory {
	m := memory{status: idpserve.Status(pid)}
	fmt.Printf("VmRSS %s, RssAnon %s, RssFile %s, RssShmem %s\n", kib(m.status["VmRSS"]), kib(m.status["RssAnon"]),
		kib(m.status["RssFile"]), kib(m.status["RssShmem"]))
	if o.maps > 0 {
		printMaps(pid, o.maps)
	}
	if o.pages > 0 {
		if err := printPages(pid, o.idp, o.pages); err != nil {
			fmt.Printf("  pages: %v\n", err)
		}
	}
	return m
}

func waitReady(u string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("not ready within %s", timeout)
}

// printMaps prints the largest mappings of /proc/PID/smaps by Rss.
func printMaps(pid, top int) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		fmt.Printf("  smaps: %v\n", err)
		return
	}
	defer f.Close()
	type mapping struct {
		name            string
		size, rss, anon int64
	}
	var maps []mapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if !strings.HasSuffix(fields[0], ":") { // a mapping's header: range perms offset dev inode [path]
			name := fields[1]
			if len(fields) > 5 {
				name += " " + filepath.Base(fields[5])
			} else {
				name += " [anon]"
			}
			maps = append(maps, mapping{name: fields[0] + " " + name})
			continue
		}
		if len(maps) == 0 || len(fields) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(fields[1], 10, 64)
		cur := &maps[len(maps)-1]
		switch fields[0] {
		case "Size:":
			cur.size = n
		case "Rss:":
			cur.rss = n
		case "Anonymous:":
			cur.anon = n
		}
	}
	slices.SortFunc(maps, func(a, b mapping) int { return int(b.rss - a.rss) })
	for _, m := range maps[:min(top, len(maps))] {
		if m.rss == 0 {
			break
		}
		fmt.Printf("  %9s Rss (%9s anonymous) of %9s  %s\n", kib(m.rss), kib(m.anon), kib(m.size), m.name)
	}
}

// printInitTrace prints the package inits of a GODEBUG=inittrace=1 log,
// the most allocating first, and their totals.
func printInitTrace(logPath string) {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return
	}
	type initLine struct {
		pkg          string
		ms           float64
		bytes, alloc int64
	}
	var inits []initLine
	var sum initLine
	for line := range strings.SplitSeq(string(b), "\n") {
		// init internal/i18n @2.1 ms, 3.6 ms clock, 497 bytes, 4435 allocs
		f := strings.Fields(line)
		if len(f) < 11 || f[0] != "init" {
			continue
		}
		l := initLine{pkg: f[1]}
		l.ms, _ = strconv.ParseFloat(f[4], 64)
		l.bytes, _ = strconv.ParseInt(f[7], 10, 64)
		l.alloc, _ = strconv.ParseInt(f[9], 10, 64)
		inits = append(inits, l)
		sum.ms, sum.bytes, sum.alloc = sum.ms+l.ms, sum.bytes+l.bytes, sum.alloc+l.alloc
	}
	slices.SortFunc(inits, func(a, b initLine) int { return int(b.bytes - a.bytes) })
	fmt.Printf("  package inits: %d, %.1f ms, %s, %d allocs; the heaviest:\n", len(inits), sum.ms, kib(sum.bytes/1024), sum.alloc)
	for _, l := range inits[:min(12, len(inits))] {
		fmt.Printf("    %-60s %6.2f ms %9d bytes %6d allocs\n", l.pkg, l.ms, l.bytes, l.alloc)
	}
}

func save(u, path string) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func kib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/1024) }

func spread(v []int64) string {
	if len(v) == 0 {
		return "-"
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return fmt.Sprintf("%s / %s / %s", kib(s[0]), kib(s[len(s)/2]), kib(s[len(s)-1]))
}
