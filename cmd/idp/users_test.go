package main

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// TestSetPasswordLikeTheLink: idp users set-password and a password link
// are one rule (accounts.Service): either ends every session, unlocks the
// account and its second factor, and records password.set. set-password
// used to end the sessions but leave the account locked.
func TestSetPasswordLikeTheLink(t *testing.T) {
	const email = "ada@example.com"
	for _, c := range []struct {
		name string
		set  func(t *testing.T, e *testEnv, st store.Store) string // the command's output
	}{
		{"set-password", func(t *testing.T, e *testEnv, st store.Store) string {
			return e.cli("a new long password\n", "users", "set-password", "--email", "ADA@example.com")
		}},
		{"reset link", func(t *testing.T, e *testEnv, st store.Store) string {
			out := e.cli("", "users", "reset-link", "--email", email, "--base-url", "https://idp.example.com", "--no-email")
			_, secret, ok := strings.Cut(strings.Fields(out)[0], "?token=")
			if !ok {
				t.Fatalf("no link in:\n%s", out)
			}
			if _, _, err := accounts.New(accounts.Config{Store: st}).UseLink(t.Context(), accounts.Actor{}, secret, "a new long password"); err != nil {
				t.Fatal(err)
			}
			return out
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, st := sqliteEnv(t)
			e.cli("an old long password\n", "users", "add", "--email", email, "--roles", "agent")
			u, err := st.GetUserByEmail(t.Context(), email)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			if err := st.CreateSession(t.Context(), store.Session{ID: strings.Repeat("a", 64), UserID: u.ID, Index: "_i",
				AuthnInstant: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			locks := []string{accounts.AccountKey(email), accounts.MFAKey(u.ID)}
			for _, k := range locks {
				if _, err := st.UpdateThrottle(t.Context(), k, func(th store.Throttle) (store.Throttle, error) {
					th.Failures, th.LastFailure, th.LockedUntil = 10, now, now.Add(time.Hour)
					return th, nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			lockRow := regexp.MustCompile(`(?m)^sign_in_lock:\s+(.*)$`)
			if m := lockRow.FindStringSubmatch(e.cli("", "users", "show", "--email", email)); m == nil || !strings.HasPrefix(m[1], "locked until") {
				t.Fatalf("users show before: sign_in_lock %q, want locked", m)
			}

			out := c.set(t, e, st)

			if c.name == "set-password" {
				samltest.MustContain(t, out, "set the password of user "+email, "ended 1 session(s)")
			}
			if ss, err := st.ListSessions(t.Context(), u.ID); err != nil || len(ss) != 0 {
				t.Errorf("sessions after the new password: %v (%v), want none", ss, err)
			}
			for _, k := range locks {
				if th, err := st.GetThrottle(t.Context(), k); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("%s after the new password: %+v (%v), want no record", k, th, err)
				}
			}
			if m := lockRow.FindStringSubmatch(e.cli("", "users", "show", "--email", email)); m == nil || m[1] != "none" {
				t.Errorf("users show after: sign_in_lock %q, want none", m)
			}
			if got := samltest.AuditTrail(t, st, store.AuditFilter{Action: accounts.AuditPasswordSet}); len(got) != 1 {
				t.Errorf("password.set events: %v, want one", got)
			}
		})
	}
}

// TestUserCommandsAudit: each users command records one admin event by
// the --actor, with the action names and the before/after profile
// (never the hash) the audit trail has always had.
func TestUserCommandsAudit(t *testing.T) {
	e, st := sqliteEnv(t)
	for _, c := range []struct {
		args   []string
		action string
		says   []string // in the event's reason and details
	}{
		{[]string{"add", "--email", "ada@example.com", "--no-password", "--roles", "agent"}, "admin.user.add", []string{`"after":`, `"password":"not set"`}},
		{[]string{"update", "--email", "ada@example.com", "--team", "Blue"}, "admin.user.update", []string{`"before":`, `"team":"Blue"`}},
		{[]string{"set-attr", "--email", "ada@example.com", "skills.intarray=1,2"}, "admin.user.set-attr", []string{`"skills.intarray"`}},
		{[]string{"unset-attr", "--email", "ada@example.com", "skills.intarray"}, "admin.user.unset-attr", []string{`"before":`, `"after":`}},
		{[]string{"disable", "--email", "ada@example.com"}, "admin.user.disable", []string{`"disabled":true`}},
		{[]string{"enable", "--email", "ada@example.com"}, "admin.user.enable", []string{`"disabled":false`}},
		{[]string{"unlock", "--email", "ada@example.com"}, "admin.user.unlock", nil},
		{[]string{"grant", "--email", "ada@example.com", "--console", "viewer"}, "admin.user.grant", []string{`"before":{"console_role":""}`, `"after":{"console_role":"viewer"}`}},
		{[]string{"delete", "--email", "ada@example.com"}, "admin.user.delete", []string{`"before":`, `"team":"Blue"`}},
	} {
		e.cli("", append([]string{"users", c.args[0], "--actor", "alice"}, c.args[1:]...)...)
		events, err := st.ListAudit(t.Context(), store.AuditFilter{Limit: 1})
		if err != nil || len(events) != 1 {
			t.Fatalf("users %s: audit %v (%v)", c.args[0], events, err)
		}
		ev := events[0]
		if ev.Action != c.action || ev.Actor != "alice" || ev.Email != "ada@example.com" {
			t.Errorf("users %s recorded %s by %q for %q, want %s by alice for ada@example.com", c.args[0], ev.Action, ev.Actor, ev.Email, c.action)
		}
		got := ev.Reason + string(ev.Details)
		for _, s := range c.says {
			if !strings.Contains(got, s) {
				t.Errorf("users %s: the event %s lacks %s", c.args[0], got, s)
			}
		}
		if strings.Contains(got, "$argon2id$") {
			t.Errorf("users %s: the event records the hash", c.args[0])
		}
	}
}

// TestUsersGrant: idp users grant sets and revokes the console role with
// one line, users show prints it, a bad role is a usage error, and the
// last owner cannot be demoted.
func TestUsersGrant(t *testing.T) {
	e, st := sqliteEnv(t)
	e.cli("", "users", "add", "--email", "ann@example.com", "--no-password")
	e.cli("", "users", "add", "--email", "bob@example.com", "--no-password")

	for _, c := range []struct {
		args []string
		want int
		says string
	}{
		{[]string{"--email", "ann@example.com", "--console", "owner"}, 0, "console role of ann@example.com: owner (was none)"},
		{[]string{"--email", "ann@example.com", "--console", "owner"}, 0, "ann@example.com already has console role owner"},
		{[]string{"--email", "bob@example.com", "--console", "Manager"}, 0, "console role of bob@example.com: manager (was none)"},
		{[]string{"--email", "ann@example.com", "--console", "none"}, 1, "ann@example.com is the last console owner"},
		{[]string{"--email", "bob@example.com", "--console", "admin"}, 2, `"admin" is not a console role`},
		{[]string{"--email", "bob@example.com"}, 2, "give --console owner, manager, viewer or none"},
		{[]string{"--email", "nobody@example.com", "--console", "viewer"}, 1, "no user"},
	} {
		out := e.cliWant(c.want, "", append([]string{"users", "grant"}, c.args...)...)
		if !strings.Contains(out, c.says) {
			t.Errorf("users grant %s: output %q lacks %q", strings.Join(c.args, " "), out, c.says)
		}
	}
	for email, want := range map[string]users.ConsoleRole{"ann@example.com": users.ConsoleOwner, "bob@example.com": users.ConsoleManager} {
		u, err := st.GetUserByEmail(t.Context(), email)
		if err != nil || u.ConsoleRole != want {
			t.Errorf("%s has console role %q (%v), want %q", email, u.ConsoleRole, err, want)
		}
		if out := e.cli("", "users", "show", "--email", email); !strings.Contains(out, "console_role:  "+string(want)) {
			t.Errorf("users show %s lacks the console role %s:\n%s", email, want, out)
		}
	}
}
