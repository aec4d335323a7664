// Package idpserve is what the load benchmark (bench) and the idle-memory
// probe (bench/idlerss) both need to run idp serve the same way: the
// binary built as the Dockerfile ships it, the server's environment, a
// free loopback address, and a process's memory lines.
package idpserve

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// ShippedBuild are the go build arguments of the Dockerfile (with
// CGO_ENABLED=0): idp is measured as it is shipped, a static binary. A
// default build on a machine with a C compiler links the C library for
// the resolver, and its idle RSS is about 1.5 MiB more
// (docs/performance.md, "Idle memory").
var ShippedBuild = []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w", "github.com/flexidp/flexidp/cmd/idp"}

// Build builds idp into bin as ShippedBuild says. It runs in the
// repository (the module's directory or below).
func Build(ctx context.Context, bin string) error {
	build := exec.CommandContext(ctx, "go", append([]string{"build", "-o", bin}, ShippedBuild...)...)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/idp (run from the repository, or pass --idp): %v\n%s", err, out)
	}
	return nil
}

// Config is what differs between the servers the two tools start.
type Config struct {
	Addr, MetricsAddr, DatabaseURL string
	CPUs, HashMemoryMiB            int
}

// Env is the environment of idp serve: the production configuration path
// (environment variables), a fresh key-encryption key, JSON logs, the
// agents' addresses trusted from X-Forwarded-For (as behind the TLS
// proxy), and the metrics listener the allocation counters are read from.
func Env(c Config) []string {
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"GOMAXPROCS=" + strconv.Itoa(c.CPUs),
		"IDP_BASE_URL=http://" + c.Addr,
		"IDP_LISTEN=" + c.Addr,
		"IDP_DATABASE_URL=" + c.DatabaseURL,
		"IDP_KEY_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(kek),
		"IDP_HASH_MEMORY_MIB=" + strconv.Itoa(c.HashMemoryMiB),
		"IDP_LOG_FORMAT=json",
		"IDP_TRUST_PROXY=true",
		"IDP_METRICS_LISTEN=" + c.MetricsAddr,
	}
}

// FreeAddr is a loopback address with a port free a moment ago.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Status reads the memory lines (in KiB: VmRSS, RssAnon, RssFile, …) of
// /proc/PID/status; empty when the process is gone.
func Status(pid int) map[string]int64 {
	m := map[string]int64{}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || !strings.HasSuffix(v, "kB") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		if err == nil {
			m[k] = n
		}
	}
	return m
}
