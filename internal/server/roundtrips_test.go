package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
)

// throttleCalls are the sign-in throttle's bookkeeping, which the
// round-trip budget leaves out.
var throttleCalls = []string{"GetThrottle", "UpdateThrottle", "DeleteThrottle"}

// writeCalls are the store calls that commit a write.
var writeCalls = []string{"RecordVisit", "CreateSession", "TouchSession", "DeleteSession", "DeleteUserSessions",
	"ConsumeOnce", "AppendAudit", "UpdateUser", "UpdateServiceProvider", "PutMFA", "UpdateMFA"}

// TestStoreRoundTripsPerResponse counts the store calls (on PostgreSQL
// each is one statement and one round trip) of a password sign-in that
// ends in a Response, from the login page on, and of an SSO Response
// within the session: exactly the calls listed and one commit each (the
// throttle's bookkeeping apart), with every duty kept: the replay record,
// the audit events, the session.
func TestStoreRoundTripsPerResponse(t *testing.T) {
	cs := &countingStore{}
	h := newTestIdP(t, idpOptions{Wrap: func(st store.Store) store.Store { cs.Store = st; return cs }})
	flex := samltest.FlexSP(t, h.URL)
	// A first request reads the SP into the replica's memory.
	samltest.NewBrowser(t).StartSignIn(flex)
	if got := cs.take(); !slices.Contains(got, "GetServiceProviderVersion") {
		t.Errorf("first request's store calls %v: the SP is not read", got)
	}
	b := samltest.NewBrowser(t)

	page, reqID := b.StartSignIn(flex)
	status, body := b.Login(h.URL, page, "agent@example.com", password)
	samltest.WantStatus(t, "password sign-in", status, http.StatusOK, body)
	samltest.Accepts(t, flex, samltest.Form(t, body), reqID)
	password := slices.DeleteFunc(cs.take(), func(c string) bool { return slices.Contains(throttleCalls, c) })

	redirect, reqID := samltest.AuthnRedirect(t, flex, "", nil)
	status, body = b.Get(redirect)
	samltest.WantStatus(t, "SSO within the session", status, http.StatusOK, body)
	samltest.Accepts(t, flex, samltest.Form(t, body), reqID)
	sso := cs.take()
	redirect, reqID = samltest.AuthnRedirect(t, flex, "", nil)
	status, body = b.Get(redirect)
	samltest.WantStatus(t, "SSO within the session, again", status, http.StatusOK, body)
	samltest.Accepts(t, flex, samltest.Form(t, body), reqID)
	again := cs.take()

	for _, tc := range []struct {
		name  string
		calls []string
		want  []string
	}{
		// The login page asks whether sign-in sources are configured
		// (ListDirectories); the sign-in reads, in one statement, the
		// user, their directory link, second factor, passkeys and groups,
		// and the sources (GetSignInFacts): what routes the password,
		// decides the second step and what the Response releases.
		{"password sign-in", password, []string{"ListDirectories", "GetSignInFacts", "RecordVisit"}},
		// The session, its user and the user's groups are one read.
		{"SSO within a session", sso, []string{"GetSessionUser", "RecordVisit"}},
		// The next keeps the session read in memory (sessionCache): its one
		// statement is the commit, which checks the session's stamp.
		{"SSO within a session, from memory", again, []string{"RecordVisit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !slices.Equal(tc.calls, tc.want) {
				t.Errorf("store calls %s, want %s", strings.Join(tc.calls, ", "), strings.Join(tc.want, ", "))
			}
			if n := len(slices.DeleteFunc(slices.Clone(tc.calls), func(c string) bool { return !slices.Contains(writeCalls, c) })); n != 1 {
				t.Errorf("%d commits, want 1", n)
			}
		})
	}
	// The duties: the three requests consumed, the sign-in and the three
	// Responses audited, one session.
	if n := h.count(t, `SELECT count(*) FROM consumed_ids`); n != 3 {
		t.Errorf("%d replay records, want 3", n)
	}
	want := []string{"saml.response:", "saml.response:", "saml.response:", "signin.success:password", "admin.user.add:"}
	if got := h.audit(t, store.AuditFilter{User: "agent@example.com"}); !slices.Equal(got, want) {
		t.Errorf("audit %v, want %v", got, want)
	}
	if n := h.sessions(t, "agent@example.com"); n != 1 {
		t.Errorf("%d sessions, want 1", n)
	}

	// A refused sign-in makes the same store calls whether the account
	// exists or not: the calls do not tell.
	refused := func(email string) []string {
		t.Helper()
		b := samltest.NewBrowser(t)
		page, _ := b.StartSignIn(flex)
		cs.take()
		status, body := b.Login(h.URL, page, email, "not the password")
		samltest.WantStatus(t, "refused sign-in of "+email, status, http.StatusUnauthorized, body)
		return slices.DeleteFunc(cs.take(), func(c string) bool { return slices.Contains(throttleCalls, c) })
	}
	known, unknown := refused("agent@example.com"), refused("nobody@example.com")
	if !slices.Equal(known, unknown) || !slices.Contains(known, "GetSignInFacts") {
		t.Errorf("refused sign-in's store calls: known account %v, unknown %v; want the same, one GetSignInFacts", known, unknown)
	}
}

// BenchmarkSSOResponse is one SSO Response within a session, through the
// server's handler without the network (the requests are built before the
// timer starts): the server's allocations per Response, and its store
// calls and commits per Response (calls/op, commits/op).
func BenchmarkSSOResponse(b *testing.B) {
	cs := &countingStore{}
	h := newTestIdP(b, idpOptions{Wrap: func(st store.Store) store.Store { cs.Store = st; return cs }})
	flex := samltest.FlexSP(b, h.URL)
	br := samltest.NewBrowser(b)
	page, _ := br.StartSignIn(flex)
	if status, body := br.Login(h.URL, page, "agent@example.com", password); status != http.StatusOK {
		b.Fatalf("sign-in: %d\n%s", status, body)
	}
	base, _ := url.Parse(h.URL)
	cookies := br.C.Jar.Cookies(base)
	reqs := make([]*http.Request, b.N)
	for i := range reqs {
		redirect, _ := samltest.AuthnRedirect(b, flex, "", nil)
		reqs[i] = httptest.NewRequest(http.MethodGet, redirect, nil)
		for _, c := range cookies {
			reqs[i].AddCookie(c)
		}
	}
	samltest.NewBrowser(b).StartSignIn(flex) // the SP in memory, as on a replica in service
	cs.take()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		w := httptest.NewRecorder()
		h.Handler.ServeHTTP(w, reqs[i])
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "SAMLResponse") {
			b.Fatalf("status %d\n%s", w.Code, w.Body)
		}
	}
	b.StopTimer()
	calls := cs.take()
	commits := slices.DeleteFunc(slices.Clone(calls), func(c string) bool { return !slices.Contains(writeCalls, c) })
	b.ReportMetric(float64(len(calls))/float64(b.N), "calls/op")
	b.ReportMetric(float64(len(commits))/float64(b.N), "commits/op")
}

// TestSPCacheAcrossReplicas: a replica keeps the SPs it read in memory,
// and another replica (or the CLI) changes one. The first replica never
// posts a Response built from its stale copy: the commit checks the
// version, and the request is answered from the SP as it now is.
func TestSPCacheAcrossReplicas(t *testing.T) {
	a := newTestIdP(t, idpOptions{})
	b := newTestIdP(t, idpOptions{Store: a.Store})
	flexB := samltest.FlexSP(t, b.URL)
	browser := samltest.NewBrowser(t)
	browser.SignIn(flexB, b.URL, "agent@example.com", password)
	sso := func() (int, string) {
		t.Helper()
		redirect, _ := samltest.AuthnRedirect(t, flexB, "", nil)
		return browser.Get(redirect)
	}

	for _, tc := range []struct {
		name   string
		change func(*sp.ServiceProvider)
		status int
		says   string
	}{
		{"assignment required on a", func(p *sp.ServiceProvider) { p.AssignmentRequired = true }, http.StatusForbidden, "not assigned"},
		{"another ACS URL on a", func(p *sp.ServiceProvider) {
			p.AssignmentRequired, p.ACSURLs = false, []string{"https://other.example.com/acs"}
		}, http.StatusBadRequest, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.updateSP(t, func(p *sp.ServiceProvider) { p.ACSURLs = []string{samltest.FlexACS}; p.AssignmentRequired = false })
			status, body := sso() // b reads the SP as it is now
			samltest.WantStatus(t, "SSO on b", status, http.StatusOK, body)
			a.updateSP(t, tc.change)
			status, body = sso()
			if status != tc.status || strings.Contains(body, "SAMLResponse") {
				t.Fatalf("SSO on b after the change on a: status %d, want %d and no Response\n%s", status, tc.status, body)
			}
			samltest.MustContain(t, body, tc.says)
		})
	}
	t.Run("SP deleted on a", func(t *testing.T) {
		a.updateSP(t, func(p *sp.ServiceProvider) { p.ACSURLs = []string{samltest.FlexACS}; p.AssignmentRequired = false })
		status, body := sso()
		samltest.WantStatus(t, "SSO on b", status, http.StatusOK, body)
		if err := a.Accounts.RemoveSP(context.Background(), admin, "flex"); err != nil {
			t.Fatal(err)
		}
		status, body = sso()
		if status == http.StatusOK || strings.Contains(body, "SAMLResponse") {
			t.Fatalf("SSO on b after the SP was deleted on a: status %d\n%s", status, body)
		}
	})
}
