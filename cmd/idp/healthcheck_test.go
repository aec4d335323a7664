package main

import (
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/samltest"
)

// TestHealthcheck runs `idp healthcheck`, the Dockerfile's HEALTHCHECK and
// docker-compose's healthcheck, against a ready server and a closed port.
func TestHealthcheck(t *testing.T) {
	e := newTestEnv(t)
	base := e.startServe()
	addr := strings.TrimPrefix(base, "http://")
	samltest.MustContain(t, e.cli("", "healthcheck", "--listen", addr), "ready")

	// IDP_LISTEN as the image sets it (":PORT") probes loopback.
	_, port, _ := strings.Cut(addr, ":")
	e.getenv["IDP_LISTEN"] = ":" + port
	samltest.MustContain(t, e.cli("", "healthcheck"), "ready")

	samltest.MustContain(t, e.cliWant(1, "", "healthcheck", "--listen", freeAddr(t)), "not ready")
}
