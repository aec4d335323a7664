package server_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// TestSessionCacheAcrossReplicas: replica b keeps the session it read for
// SSO in memory, with its user and groups, and replica a (the console,
// SCIM, the CLI) changes the user, their groups or the session. b's next
// Response is built from what now is, or refused, never from its stale
// copy: the commit checks the session's stamp, and the request is
// answered again from the database.
func TestSessionCacheAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	a := newTestIdP(t, idpOptions{})
	cs := &countingStore{}
	b := newTestIdP(t, idpOptions{Store: a.Store, Wrap: func(st store.Store) store.Store { cs.Store = st; return cs }})
	flexB := samltest.FlexSP(t, b.URL)
	browser := samltest.NewBrowser(t)
	browser.SignIn(flexB, b.URL, "agent@example.com", password)
	if _, err := a.Accounts.CreateGroup(ctx, admin, users.Group{Name: "Supervisors", Roles: []string{"supervisor"}}); err != nil {
		t.Fatal(err)
	}
	// sso answers one AuthnRequest on b: the Response's attributes, or nil
	// and the page when there is none.
	sso := func(t *testing.T) (map[string][]string, int, string) {
		t.Helper()
		redirect, reqID := samltest.AuthnRedirect(t, flexB, "", nil)
		status, body := browser.Get(redirect)
		if status != http.StatusOK || !strings.Contains(body, "SAMLResponse") {
			return nil, status, body
		}
		return samltest.Values(samltest.Accepts(t, flexB, samltest.Form(t, body), reqID)), status, body
	}
	// warm answers on b and checks that the second Response came from
	// memory: its only store call is the commit.
	warm := func(t *testing.T) {
		t.Helper()
		for range 2 {
			if got, status, body := sso(t); got == nil {
				t.Fatalf("SSO on b: status %d, no Response\n%s", status, body)
			}
			if calls := cs.take(); !slices.Contains(calls, "GetSessionUser") {
				return
			}
		}
		t.Fatal("b read the session from the database for each Response: nothing is kept in memory")
	}
	// Each change on a, in turn; b's next Response carries the roles it
	// leads to (want) and not those it took away (not).
	for _, tc := range []struct {
		name      string
		change    func() error
		want, not string
	}{
		{"joined a group on a", func() error { return a.Accounts.AddMembers(ctx, admin, "Supervisors", "agent@example.com") }, "supervisor", ""},
		{"group changed on a", func() error {
			_, err := a.Accounts.UpdateGroup(ctx, admin, "Supervisors", func(g *users.Group) error { g.Roles = []string{"admin"}; return nil })
			return err
		}, "admin", "supervisor"},
		{"left the group on a", func() error { return a.Accounts.RemoveMembers(ctx, admin, "Supervisors", "agent@example.com") }, "agent", "admin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			warm(t)
			if err := tc.change(); err != nil {
				t.Fatal(err)
			}
			got, status, body := sso(t)
			if got == nil {
				t.Fatalf("SSO on b after the change on a: status %d, no Response\n%s", status, body)
			}
			rs := strings.Split(strings.Join(got["roles"], ","), ",")
			if !slices.Contains(rs, tc.want) || (tc.not != "" && slices.Contains(rs, tc.not)) {
				t.Errorf("roles %v after the change on a; want %q and not %q", got["roles"], tc.want, tc.not)
			}
		})
	}
	t.Run("user changed on a", func(t *testing.T) {
		warm(t)
		if _, err := a.Accounts.UpdateUser(ctx, admin, "agent@example.com", "test", func(u *users.User) error { u.Team = "Night shift"; return nil }); err != nil {
			t.Fatal(err)
		}
		got, status, body := sso(t)
		if got == nil || !slices.Equal(got["team"], []string{"Night shift"}) {
			t.Errorf("team %v after the change on a (status %d); want [Night shift]\n%s", got["team"], status, body)
		}
	})
	t.Run("user disabled on a", func(t *testing.T) {
		warm(t)
		// Disabled in the row alone (as a directory sync or an import
		// would leave it before the sessions are ended).
		if _, err := a.Store.UpdateUser(ctx, a.user(t, "agent@example.com").ID, func(u users.User) (users.User, error) { u.Disabled = true; return u, nil }); err != nil {
			t.Fatal(err)
		}
		// b ends the disabled user's session and asks them to sign in.
		got, status, body := sso(t)
		if got != nil {
			t.Fatalf("SSO on b after the user was disabled on a: a Response %v", got)
		}
		samltest.WantStatus(t, "SSO on b after the user was disabled on a", status, http.StatusOK, body)
		samltest.MustContain(t, body, `name="password"`)
		if n := a.sessions(t, "agent@example.com"); n != 0 {
			t.Errorf("the disabled user has %d sessions, want 0", n)
		}
	})
	t.Run("session ended on a", func(t *testing.T) {
		if err := a.Accounts.Enable(ctx, admin, "agent@example.com"); err != nil {
			t.Fatal(err)
		}
		browser.SignIn(flexB, b.URL, "agent@example.com", password)
		warm(t)
		if _, _, err := a.Accounts.RevokeSessions(ctx, admin, "agent@example.com"); err != nil {
			t.Fatal(err)
		}
		got, status, body := sso(t)
		if got != nil {
			t.Fatalf("SSO on b after the session ended on a: a Response %v", got)
		}
		samltest.WantStatus(t, "SSO on b after the session ended on a", status, http.StatusOK, body)
		samltest.MustContain(t, body, `name="password"`)
	})
}
