package server_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/server"
	"github.com/flexidp/flexidp/internal/store"
)

// TestSessionTouchNeverOutlivesLimits: an SSO within a session writes its
// LastSeenAt only when it moved by more than a minute (so a busy shift
// start does not turn every Response into a session write), yet the
// session is never used past its idle timeout counted from its last real
// use, nor past its absolute lifetime.
func TestSessionTouchNeverOutlivesLimits(t *testing.T) {
	clk := newClock()
	h := newTestIdP(t, idpOptions{Now: clk.Now})
	flex := samltest.FlexSP(t, h.URL)
	b := samltest.NewBrowser(t)
	b.SignIn(flex, h.URL, "agent@example.com", password)
	stored := func(t time.Time) time.Time { return t.Truncate(time.Microsecond) }
	signedIn := stored(clk.Now())

	sso := func() bool {
		t.Helper()
		// The request is issued and checked on the real clock; the
		// session's times are on clk.
		redirect, _ := samltest.AuthnRedirect(t, flex, "", nil)
		status, body := b.Get(redirect)
		samltest.WantStatus(t, "SSO", status, http.StatusOK, body)
		return strings.Contains(body, `name="SAMLResponse"`)
	}
	lastSeen := func() time.Time {
		t.Helper()
		ss, err := h.Store.ListSessions(context.Background(), h.user(t, "agent@example.com").ID)
		if err != nil || len(ss) != 1 {
			t.Fatalf("sessions %v, %v; want one", ss, err)
		}
		return ss[0].LastSeenAt
	}

	// Within a minute of the last write, Responses do not write it.
	clk.Add(40 * time.Second)
	if !sso() {
		t.Fatal("SSO 40 s after the sign-in was refused")
	}
	if got := lastSeen(); !got.Equal(signedIn) {
		t.Errorf("LastSeenAt = %v after an SSO 40 s after the sign-in, want it unwritten (%v)", got, signedIn)
	}
	// Past the minute, it is written: the session's idle time counts from
	// a write at most a minute older than its last use.
	clk.Add(40 * time.Second)
	if !sso() {
		t.Fatal("SSO 80 s after the sign-in was refused")
	}
	if got := lastSeen(); !got.Equal(stored(clk.Now())) {
		t.Errorf("LastSeenAt = %v after an SSO 80 s after the sign-in, want %v", got, stored(clk.Now()))
	}

	// Used 59 s later (not written), then idle: refused once the idle
	// timeout has passed since that last use, though it was not written.
	clk.Add(59 * time.Second)
	if !sso() {
		t.Fatal("SSO 59 s after the last one was refused")
	}
	clk.Add(server.DefaultSessionIdle)
	if sso() {
		t.Errorf("SSO %v after the last use was answered: the session outlived its idle timeout", server.DefaultSessionIdle)
	}

	// Used just within the idle timeout again and again, a session still
	// ends at its absolute lifetime.
	b = samltest.NewBrowser(t)
	b.SignIn(flex, h.URL, "agent@example.com", password)
	end := clk.Now().Add(server.DefaultSessionLifetime)
	for clk.Now().Add(server.DefaultSessionIdle - time.Second).Before(end) {
		clk.Add(server.DefaultSessionIdle - time.Second)
		if !sso() {
			t.Fatalf("SSO %v before the lifetime's end was refused", end.Sub(clk.Now()))
		}
	}
	clk.Add(end.Sub(clk.Now()))
	if sso() {
		t.Error("SSO at the end of the absolute lifetime was answered")
	}
}

// TestSessionTouchRemembered: the SSO that writes a session's LastSeenAt
// keeps the session in memory as the store now has it, so the next SSO
// within the minute reads nothing but commits (store calls).
func TestSessionTouchRemembered(t *testing.T) {
	clk := newClock()
	cs := &countingStore{}
	h := newTestIdP(t, idpOptions{Now: clk.Now, Wrap: func(st store.Store) store.Store { cs.Store = st; return cs }})
	flex := samltest.FlexSP(t, h.URL)
	b := samltest.NewBrowser(t)
	b.SignIn(flex, h.URL, "agent@example.com", password)
	sso := func(what string) []string {
		t.Helper()
		cs.take()
		redirect, reqID := samltest.AuthnRedirect(t, flex, "", nil)
		status, body := b.Get(redirect)
		samltest.WantStatus(t, what, status, http.StatusOK, body)
		samltest.Accepts(t, flex, samltest.Form(t, body), reqID)
		return cs.take()
	}
	sso("SSO after the sign-in")
	clk.Add(80 * time.Second)
	if got := sso("SSO 80 s after the sign-in"); !slices.Contains(got, "GetSessionUser") {
		t.Errorf("the SSO that touches the session: store calls %v, want it read anew", got)
	}
	clk.Add(10 * time.Second)
	if got := sso("SSO 10 s later"); !slices.Equal(got, []string{"RecordVisit"}) {
		t.Errorf("the SSO 10 s after a touch: store calls %v, want only RecordVisit", got)
	}
}
