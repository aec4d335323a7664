package server

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/saml"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/sqlite/sqlitetest"
	"github.com/flexidp/flexidp/internal/users"
)

// newHeaderServer is a Server at base with a signing key and an empty
// store (the login page asks it whether sources are configured).
func newHeaderServer(t *testing.T, base string) http.Handler {
	t.Helper()
	return newTestServer(t, Config{}, base, nil).Handler()
}

// newTestServer is a Server configured by cfg at base, on st (nil: an
// empty embedded store), with a signing key and a discarded log.
func newTestServer(t testing.TB, cfg Config, base string, st store.Store) *Server {
	t.Helper()
	if st == nil {
		st = sqlitetest.New(t)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	idp, err := saml.New(saml.Config{EntityID: base + "/saml/metadata", SSOURL: base + "/saml/sso"})
	if err != nil {
		t.Fatal(err)
	}
	idp.SetKeys(&saml.KeySet{ID: "k", Signer: key, Certificate: cert})
	cfg.BaseURL, err = url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, st, idp, users.NewHasher(users.DefaultParams, 1), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSecurityHeaders checks every answer's policy: CSP with
// frame-ancestors 'none' and data: images only, no referrer, no caching,
// HSTS on https only; cookies __Host- prefixed, Secure and HttpOnly on
// https.
func TestSecurityHeaders(t *testing.T) {
	for _, base := range []string{"https://idp.example.com", "http://localhost:8080"} {
		h := newHeaderServer(t, base)
		secure := strings.HasPrefix(base, "https")
		for _, path := range []string{"/login", "/password/forgot", "/account", "/healthz", "/no-such-page"} {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, base+path, nil))
			hd := w.Result().Header
			csp := hd.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "img-src 'self' data:", "form-action 'self'", "base-uri 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("%s%s: CSP %q lacks %q", base, path, csp, want)
				}
			}
			for k, v := range map[string]string{"Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
				"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
				if hd.Get(k) != v {
					t.Errorf("%s%s: %s = %q, want %q", base, path, k, hd.Get(k), v)
				}
			}
			if hsts := hd.Get("Strict-Transport-Security"); (hsts != "") != secure {
				t.Errorf("%s%s: HSTS %q on secure=%v", base, path, hsts, secure)
			}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, base+"/login", nil))
		cookies := w.Result().Cookies()
		if len(cookies) == 0 {
			t.Fatalf("%s: the login form sets no CSRF cookie", base)
		}
		for _, c := range cookies {
			if secure && (!strings.HasPrefix(c.Name, "__Host-") || !c.Secure || c.Path != "/" || c.Domain != "") || !c.HttpOnly {
				t.Errorf("%s: cookie %s: secure %v, path %q, domain %q, httponly %v", base, c.Name, c.Secure, c.Path, c.Domain, c.HttpOnly)
			}
		}
	}
}
