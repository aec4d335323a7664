package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/keys"
	"github.com/flexidp/flexidp/internal/saml"
	"github.com/flexidp/flexidp/internal/server"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/pgtest"
	"github.com/flexidp/flexidp/internal/store/postgres"
	"github.com/flexidp/flexidp/internal/store/sqlite/sqlitetest"
	"github.com/flexidp/flexidp/internal/store/storetest"
	"github.com/flexidp/flexidp/internal/users"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// consoleBench is the console's handler on a store of
// storetest.SearchUsersN users (storetest.ImportBatch, one in a hundred
// also a supervisor), and the session cookie of a console owner.
type consoleBench struct {
	h      http.Handler
	svc    *accounts.Service
	cookie *http.Cookie
	deep   string // the cursor of a page 90% deep in the list
}

func newConsoleBench(b *testing.B, st store.Store) *consoleBench {
	b.Helper()
	ctx := context.Background()
	batch := storetest.ImportBatch(storetest.SearchUsersN)
	for i := range batch {
		if i%100 == 7 {
			batch[i].Roles = append(batch[i].Roles, "supervisor")
		}
	}
	if _, err := st.ImportUsers(ctx, batch); err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	base, _ := url.Parse("http://idp.example.com")
	svc := accounts.New(accounts.Config{Store: st, Hasher: hasher(), Log: log, BaseURL: base})
	idp, err := saml.New(saml.Config{EntityID: base.String() + "/saml/metadata", SSOURL: base.String() + "/saml/sso"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := keys.Load(ctx, keys.LoaderConfig{Store: st, CommonName: idp.EntityID(), Log: log}, idp); err != nil {
		b.Fatal(err)
	}
	owner, err := svc.CreateUser(ctx, admin, accounts.NewUser{User: users.User{Email: "owner@example.com", Roles: []string{"agent"}}, NoPassword: true})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.Grant(ctx, admin, owner.ID, users.ConsoleOwner); err != nil {
		b.Fatal(err)
	}
	const token = "console-benchmark-session-token"
	sum := sha256.Sum256([]byte(token))
	now := time.Now().UTC()
	if err := st.CreateSession(ctx, store.Session{ID: hex.EncodeToString(sum[:]), UserID: owner.ID, Index: "_bench", AuthnInstant: now,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), SecondFactor: "totp", VerifiedAt: now}); err != nil {
		b.Fatal(err)
	}
	srv, err := server.New(server.Config{BaseURL: base, Accounts: svc}, st, idp, hasher(), log)
	if err != nil {
		b.Fatal(err)
	}
	cb := &consoleBench{h: srv.Handler(), svc: svc, cookie: &http.Cookie{Name: "flexidp_session", Value: token}}
	// The cursor of the page that starts 90% deep: the users page's own
	// next link, as a person follows it.
	deep, err := svc.SearchUsers(ctx, accounts.UserQuery{Limit: accounts.MaxUserPage})
	for i := 0; err == nil && i < storetest.SearchUsersN*9/10/accounts.MaxUserPage-1; i++ {
		deep, err = svc.SearchUsers(ctx, accounts.UserQuery{After: deep.Next, Limit: accounts.MaxUserPage})
	}
	if err != nil {
		b.Fatal(err)
	}
	cb.deep = deep.Next
	return cb
}

var usersCountRE = regexp.MustCompile(`<p id="users-count">([0-9]+) users? match`)

// get serves one users page and checks that it answers with want users
// matching.
func (cb *consoleBench) get(b *testing.B, path, want string) {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.AddCookie(cb.cookie)
	rec := httptest.NewRecorder()
	cb.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("%s: status %d\n%s", path, rec.Code, rec.Body.String())
	}
	if m := usersCountRE.FindStringSubmatch(rec.Body.String()); m == nil || m[1] != want {
		b.Fatalf("%s: %v users match, want %s", path, m, want)
	}
}

// BenchmarkConsoleUsersPage100k is the server time of the console's users
// page (session and role check, search and count, rendering) with
// storetest.SearchUsersN users, on both backends: the first page, a page
// 90% deep, a substring one user matches (every user is read), a role one
// in a hundred has, and a team with enabled users. The bound is
// 100 ms. Each iteration also runs the page's accounts.SearchUsers alone,
// just before, so that what the handler adds to the store's reads is
// measured under the same load: page-ms is the handler, search-ms the
// search alone, overhead-ms the difference; cpu-ms is this process's CPU
// time per page (on SQLite the whole page's work, which a busy machine
// does not inflate as it does the wall time; on PostgreSQL without the
// database server's share). Run:
// go test -run '^$' -bench ConsoleUsersPage100k -benchtime 20x ./internal/server
func BenchmarkConsoleUsersPage100k(b *testing.B) {
	backends := []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"sqlite", func(b *testing.B) store.Store { return sqlitetest.New(b) }},
		{"postgres", func(b *testing.B) store.Store {
			s, err := postgres.Open(b.Context(), pgtest.URL(b))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			if _, err := s.Migrate(b.Context()); err != nil {
				b.Fatal(err)
			}
			return s
		}},
	}
	all := strconv.Itoa(storetest.SearchUsersN + 1) // and the owner
	enabled := false
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			cb := newConsoleBench(b, be.open(b))
			for _, c := range []struct {
				name, path, want string
				q                accounts.UserQuery
			}{
				{"first-page", "/admin/users", all, accounts.UserQuery{}},
				{"deep-page", "/admin/users?after=" + url.QueryEscape(cb.deep), all, accounts.UserQuery{After: cb.deep}},
				{"substring-one-match", "/admin/users?q=0077777%40", "1", accounts.UserQuery{Query: "0077777@"}},
				{"role", "/admin/users?role=supervisor", strconv.Itoa(storetest.SearchUsersN / 100), accounts.UserQuery{Role: "supervisor"}},
				{"team-enabled", "/admin/users?team=Team+xx&status=enabled", strconv.Itoa(storetest.SearchUsersN / 5),
					accounts.UserQuery{Team: "Team xx", Disabled: &enabled}},
			} {
				b.Run(c.name, func(b *testing.B) {
					var page, search, cpu time.Duration
					for b.Loop() {
						start := time.Now()
						if _, err := cb.svc.SearchUsers(b.Context(), c.q); err != nil {
							b.Fatal(err)
						}
						mid, cpu0 := time.Now(), cpuTime()
						cb.get(b, c.path, c.want)
						search, page, cpu = search+mid.Sub(start), page+time.Since(mid), cpu+cpuTime()-cpu0
					}
					n := float64(b.N) * float64(time.Millisecond)
					b.ReportMetric(float64(page)/n, "page-ms")
					b.ReportMetric(float64(cpu)/n, "cpu-ms")
					b.ReportMetric(float64(search)/n, "search-ms")
					b.ReportMetric(float64(page-search)/n, "overhead-ms")
				})
			}
		})
	}
}
