package scim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/scim"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/pgtest"
	"github.com/flexidp/flexidp/internal/store/postgres"
	"github.com/flexidp/flexidp/internal/store/sqlite/sqlitetest"
	"github.com/flexidp/flexidp/internal/users"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// backends are the stores the handler tests run on.
var backends = []struct {
	name string
	open func(t testing.TB) store.Store
}{
	{"sqlite", func(t testing.TB) store.Store { return sqlitetest.New(t) }},
	{"postgres", func(t testing.TB) store.Store {
		s, err := postgres.Open(t.Context(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if _, err := s.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		return s
	}},
}

// env is the SCIM server and admin API over a real store, behind an
// httptest server, with a token of each kind.
type env struct {
	t     testing.TB
	st    store.Store
	svc   *accounts.Service
	srv   *httptest.Server
	token string // scope scim
	now   time.Time
}

var fastHash = users.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

func newEnv(t testing.TB, st store.Store) *env {
	t.Helper()
	e := &env{t: t, st: st, now: time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)}
	e.svc = accounts.New(accounts.Config{Store: st, Hasher: users.NewHasher(fastHash, 2), Now: func() time.Time { return e.now }})
	h := scim.New(scim.Config{Accounts: e.svc, BaseURL: &url.URL{Scheme: "https", Host: "idp.example.com"}})
	r := chi.NewRouter()
	r.Mount(scim.SCIMPrefix, h.SCIM())
	r.Mount(scim.APIPrefix, h.API())
	e.srv = httptest.NewServer(r)
	t.Cleanup(e.srv.Close)
	e.token = e.newToken("okta", accounts.ScopeSCIM)
	return e
}

func (e *env) newToken(name string, scopes ...accounts.Scope) string {
	e.t.Helper()
	_, bearer, err := e.svc.CreateToken(context.Background(), accounts.Actor{Name: "test"}, accounts.NewToken{Name: name, Scopes: scopes})
	if err != nil {
		e.t.Fatal(err)
	}
	return bearer
}

// response is what a request got.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object (%v): %s", err, r.body)
	}
	return m
}

// do sends a request with the token (none if ""), body as JSON text.
func (e *env) do(token, method, path, body string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

func (e *env) scim(method, path, body string) response {
	e.t.Helper()
	return e.do(e.token, method, "/scim/v2"+path, body)
}

// must fails unless r has status want.
func must(t *testing.T, r response, want int, what string) response {
	t.Helper()
	if r.status != want {
		t.Fatalf("%s: status %d, want %d: %s", what, r.status, want, r.body)
	}
	return r
}

// scimError checks that r is a SCIM error with status and scimType.
func scimError(t *testing.T, r response, status int, scimType, what string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/scim+json" {
		t.Fatalf("%s: Content-Type %q, want application/scim+json", what, ct)
	}
	m := r.json(t)
	if m["status"] != http.StatusText(status) && m["status"] != itoa(status) {
		t.Fatalf("%s: status field %v", what, m["status"])
	}
	if got, _ := m["scimType"].(string); got != scimType {
		t.Fatalf("%s: scimType %q, want %q: %s", what, got, scimType, r.body)
	}
	if d, _ := m["detail"].(string); d == "" || strings.Contains(d, "Internal error") {
		t.Fatalf("%s: detail %q: want a sentence", what, d)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// quote returns s as a JSON string.
func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// auditActors returns the actors of the admin events about user.
func (e *env) auditActors(user string) []string {
	e.t.Helper()
	evs, err := e.st.ListAudit(context.Background(), store.AuditFilter{User: user, Action: "admin"})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Actor)
	}
	return out
}

func compact(s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return s
	}
	return b.String()
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
