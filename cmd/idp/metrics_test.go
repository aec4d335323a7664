package main

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/samltest"
)

const testMetricsToken = "metrics-token-for-tests-0123456789"

// scrape GETs a /metrics URL with token (none if empty) and returns the
// status and body.
func scrape(t *testing.T, u, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMetricsExposure: `serve` shows no metrics on the main listener
// unless IDP_METRICS_TOKEN is set (and then only with it); an
// IDP_METRICS_LISTEN listener serves them, behind the token when set; they
// include the store's connection pool. (What a sign-in counts is tested in
// internal/server, TestSignInEndToEnd.)
func TestMetricsExposure(t *testing.T) {
	type probe struct {
		onMetricsListener bool
		token             string
		want              int
	}
	for _, tc := range []struct {
		name   string
		listen bool
		env    map[string]string
		probes []probe
	}{
		{name: "default", probes: []probe{{false, "", http.StatusNotFound}, {false, testMetricsToken, http.StatusNotFound}}},
		{name: "token", env: map[string]string{"IDP_METRICS_TOKEN": testMetricsToken}, probes: []probe{
			{false, "", http.StatusUnauthorized}, {false, testMetricsToken + "x", http.StatusUnauthorized},
			{false, testMetricsToken, http.StatusOK}}},
		{name: "listener", listen: true, probes: []probe{{false, "", http.StatusNotFound}, {true, "", http.StatusOK}}},
		{name: "listener and token", listen: true, env: map[string]string{"IDP_METRICS_TOKEN": testMetricsToken}, probes: []probe{
			{false, testMetricsToken, http.StatusNotFound}, {true, "", http.StatusUnauthorized}, {true, testMetricsToken, http.StatusOK}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			for k, v := range tc.env {
				e.getenv[k] = v
			}
			var extra []string
			metricsAddr := ""
			if tc.listen {
				metricsAddr = freeAddr(t)
				extra = append(extra, "--metrics-listen", metricsAddr)
			}
			p := e.launchServe(extra...)
			e.waitReady(p)
			for _, pr := range tc.probes {
				u := p.base + "/metrics"
				if pr.onMetricsListener {
					u = "http://" + metricsAddr + "/metrics"
				}
				status, body := scrape(t, u, pr.token)
				if status != pr.want {
					t.Errorf("GET %s (token %v): status %d, want %d", u, pr.token != "", status, pr.want)
				}
				// serve wires the PostgreSQL pool into the metrics.
				if status == http.StatusOK && (!strings.Contains(body, "flexidp_http_requests_in_flight") ||
					!strings.Contains(body, `flexidp_store_pool_connections{state="max"}`)) {
					t.Errorf("GET %s: no flexidp metrics, or no pool metrics:\n%.300s", u, body)
				}
			}
		})
	}
}

// TestMetricsTokenTooShort: a guessable token stops `serve` with a
// sentence saying what to use.
func TestMetricsTokenTooShort(t *testing.T) {
	out := newTestEnv(t).serveRefuses("--metrics-token", "short")
	samltest.MustContain(t, out, "metrics token is too short", "openssl rand")
}

// serveRefuses runs `idp serve` with extra flags, expects it to refuse to
// start (exit 1), and returns what it printed. Its context is cancelled
// already, so a serve that does start returns at once.
func (e *testEnv) serveRefuses(extra ...string) string {
	e.t.Helper()
	env, _, errb := e.env("")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--base-url", "http://localhost:8080"}, extra...)
	if code := run(ctx, env, args); code != 1 {
		e.t.Fatalf("idp %s: exit %d, want 1: %s", strings.Join(args, " "), code, errb)
	}
	return errb.String()
}

// TestBinaryLeavesOutPrometheusClient: idp writes its metrics itself
// (internal/metrics). prometheus/client_golang and what it pulls in,
// protobuf above all, were about 17 of a cold build's 180 CPU-seconds and
// megabytes of the binary; they may serve tests (Prometheus' parser reads
// the scrapes), never the binary.
func TestBinaryLeavesOutPrometheusClient(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the binary's packages")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for pkg := range strings.Lines(string(out)) {
		for _, banned := range []string{"github.com/prometheus/", "google.golang.org/protobuf/", "github.com/beorn7/perks/"} {
			if strings.HasPrefix(pkg, banned) {
				t.Errorf("idp's binary imports %s", strings.TrimSpace(pkg))
			}
		}
	}
}
