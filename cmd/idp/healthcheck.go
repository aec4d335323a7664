package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// runHealthcheck probes the local server's /readyz, for container
// HEALTHCHECKs in images without curl.
func runHealthcheck(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "idp healthcheck", "[flags]", "Exit 0 if the IdP listening on IDP_LISTEN is ready (GET /readyz), 1 otherwise.")
	listen := fs.String("listen", envOr(env, "IDP_LISTEN", ":8080"), "the server's listen address (IDP_LISTEN)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", *listen, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: /readyz answered %s", resp.Status)
	}
	fmt.Fprintln(env.stdout, "ready")
	return nil
}
