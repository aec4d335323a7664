package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/samltest"
)

// forwardedBy adds the X-Forwarded-For a proxy that appends would send.
type forwardedBy struct{ xff string }

func (f forwardedBy) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.xff)
	return http.DefaultTransport.RoundTrip(r)
}

// TestTrustedProxiesServe: through `serve`, the audit trail records the
// address the listed proxies saw, whichever way trust is configured;
// without trust, the peer's.
func TestTrustedProxiesServe(t *testing.T) {
	// The client claims 6.6.6.6; the proxy (the test, on loopback) saw
	// 198.51.100.7, then 192.0.2.10 (a second listed proxy) passed it on.
	for _, tc := range []struct {
		name string
		env  map[string]string
		xff  string
		want string
	}{
		{"no trust", nil, "6.6.6.6, 198.51.100.7", "127.0.0.1"},
		{"IDP_TRUST_PROXY", map[string]string{"IDP_TRUST_PROXY": "true"}, "6.6.6.6, 198.51.100.7", "198.51.100.7"},
		{"IDP_TRUSTED_PROXIES", map[string]string{"IDP_TRUSTED_PROXIES": "127.0.0.1, 192.0.2.0/24"}, "6.6.6.6, 198.51.100.7, 192.0.2.10", "198.51.100.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			for k, v := range tc.env {
				e.getenv[k] = v
			}
			e.cli(password+"\n", "users", "add", "--email", "ada@example.com", "--name", "Ada", "--roles", "agent")
			base := e.startServe()
			b := samltest.NewBrowser(t)
			b.C.Transport = forwardedBy{tc.xff}
			_, page := b.Get(base + "/login")
			if status, body := b.Login(base, page, "ada@example.com", "not the password"); status == http.StatusOK && !strings.Contains(body, "Wrong email or password") {
				t.Fatalf("wrong password accepted: %d", status)
			}
			out := e.cli("", "audit", "search", "--action", "signin.failure", "--json")
			if !strings.Contains(out, `"remote_addr":"`+tc.want+`"`) {
				t.Errorf("audited %s, want remote_addr %s", out, tc.want)
			}
		})
	}
}

// TestTrustedProxiesInvalid: a list serve cannot read stops it with a
// sentence naming the bad entry.
func TestTrustedProxiesInvalid(t *testing.T) {
	e := newTestEnv(t)
	e.getenv["IDP_TRUSTED_PROXIES"] = "10.0.0.0/8, proxy.internal"
	samltest.MustContain(t, e.serveRefuses(), "IDP_TRUSTED_PROXIES", `"proxy.internal"`, "CIDR")
}
