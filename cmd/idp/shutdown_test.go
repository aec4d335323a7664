package main

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestShutdownDrainsInFlightRequests: on SIGTERM (the context ends) the
// server stops accepting, but a request a handler is already working on is
// still answered before the process exits, and it exits cleanly.
func TestShutdownDrainsInFlightRequests(t *testing.T) {
	e := newTestEnv(t)
	p := e.launchServe("--shutdown-timeout", "20s", "--metrics-token", testMetricsToken)
	e.waitReady(p)

	conn, err := net.Dial("tcp", strings.TrimPrefix(p.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The login handler starts and waits for the rest of the body: a
	// request in flight.
	const body = "email=a&password=xyz"
	if _, err := conn.Write([]byte("POST /login HTTP/1.1\r\nHost: idp\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
		"Content-Length: 20\r\n\r\n" + body[:7])); err != nil {
		t.Fatal(err)
	}
	// The server counts it (the scrape itself is the other one).
	metrics := func() string { _, body := scrape(t, p.base+"/metrics", testMetricsToken); return body }
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(metrics(), "flexidp_http_requests_in_flight 2"); {
		if time.Now().After(deadline) {
			t.Fatal("the partial request never reached a handler")
		}
		time.Sleep(10 * time.Millisecond) // polling, not a timing assertion
	}

	p.stop()
	// "shutting down" is logged before the listener closes; Shutdown logs
	// "stopped accepting connections" once it has closed it.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.logs(), "stopped accepting connections"); {
		if time.Now().After(deadline) {
			t.Fatalf("no shutdown logged:\n%s", p.logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case code := <-p.done:
		p.done <- code
		t.Fatalf("idp serve exited (%d) with a request in flight", code)
	default:
	}
	// A new connection: the scrapes above left idle keep-alive connections
	// in the default client's pool, which Shutdown closes a moment later.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	if _, err := fresh.Get(p.base + "/healthz"); err == nil {
		t.Fatal("a new connection was accepted after shutdown began")
	}

	if _, err := conn.Write([]byte(body[7:])); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the in-flight request got no answer: %v\n%s", err, p.logs())
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden { // no CSRF token: refused, but answered
		t.Fatalf("in-flight request: status %d, want 403", resp.StatusCode)
	}
	select {
	case code := <-p.done:
		p.done <- code // for the cleanup's check of the exit status
		if code != 0 {
			t.Fatalf("idp serve exited %d", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("idp serve did not exit after draining")
	}
	if !strings.Contains(p.logs(), "shut down cleanly") {
		t.Fatalf("no clean shutdown logged:\n%s", p.logs())
	}
}
