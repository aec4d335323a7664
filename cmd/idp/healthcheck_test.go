package main

import (
	"strings"
	"testing"
)

// TestHealthcheck runs `idp healthcheck`, the Dockerfile's HEALTHCHECK and
// docker-compose's healthcheck, against a ready server and a closed port.
func TestHealthcheck(t *testing.T) {
	e := newTestEnv(t)
	base := e.startServe()
	addr := strings.TrimPrefix(base, "http://")
	mustContain(t, e.cli("", "healthcheck", "--listen", addr), "ready")

	// IDP_LISTEN as the image sets it (":PORT") probes loopback.
	_, port, _ := strings.Cut(addr, ":")
	e.getenv["IDP_LISTEN"] = ":" + port
	mustContain(t, e.cli("", "healthcheck"), "ready")

	mustContain(t, e.cliWant(1, "", "healthcheck", "--listen", freeAddr(t)), "not ready")
}
