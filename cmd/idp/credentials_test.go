package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	crewjam "github.com/crewjam/saml"
)

// sessionCookie returns the value of b's session cookie for base.
func (b *browser) sessionCookie(base string) string {
	b.t.Helper()
	u, _ := url.Parse(base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "flexidp_session" {
			return c.Value
		}
	}
	return ""
}

// withSessionCookie is a new browser that holds only the session cookie v.
func withSessionCookie(t *testing.T, base, v string) *browser {
	t.Helper()
	b := newBrowser(t)
	u, _ := url.Parse(base)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "flexidp_session", Value: v, Path: "/"}})
	return b
}

// TestNewSignInEndsPreviousSession: a ForceAuthn sign-in, or one as
// another user, in a browser that has a session ends that session on the
// server, so the cookie it replaced is worthless.
func TestNewSignInEndsPreviousSession(t *testing.T) {
	e := newTestEnv(t)
	setupFlex(t, e)
	base := e.startServe()
	sp := flexTestSP(t, base)
	st := openPG(t, e)
	ctx := context.Background()

	b := newBrowser(t)
	_, page := b.get(base + "/login")
	status, body := b.login(base, page, "agent@example.com", password)
	wantStatus(t, "first sign-in", status, http.StatusOK, body)
	first := b.sessionCookie(base)
	if first == "" {
		t.Fatal("no session cookie after signing in")
	}

	tests := []struct {
		name  string
		email string
	}{
		{"ForceAuthn, same user", "agent@example.com"},
		{"another user", "sam.supervisor@example.com"},
	}
	old := first
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			redirect, _ := authnRedirect(t, sp, "", func(r *crewjam.AuthnRequest) { yes := true; r.ForceAuthn = &yes })
			_, page := b.get(redirect)
			mustContain(t, page, `name="password"`)
			status, body := b.login(base, page, tc.email, password)
			wantStatus(t, "re-sign-in", status, http.StatusOK, body)
			samlForm(t, body)
			cur := b.sessionCookie(base)
			if cur == "" || cur == old {
				t.Fatalf("the sign-in did not issue a new session cookie")
			}
			// The replaced cookie no longer signs anybody in ...
			_, body = withSessionCookie(t, base, old).get(base + "/launcher")
			mustContain(t, body, `name="password"`)
			// ... and the new one does.
			_, body = withSessionCookie(t, base, cur).get(base + "/launcher")
			mustContain(t, strings.ToLower(body), tc.email)
			old = cur
		})
	}
	for _, email := range []string{"agent@example.com", "sam.supervisor@example.com"} {
		u, err := st.GetUserByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		if email == "sam.supervisor@example.com" {
			want = 1
		}
		if ss, err := st.ListSessions(ctx, u.ID); err != nil || len(ss) != want {
			t.Errorf("%s has %d session(s) on the server (%v), want %d", email, len(ss), err, want)
		}
	}
}
