package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// BenchmarkSignInReads measures the reads of an SSO Response and of a
// password sign-in, each as one statement (GetSessionUser with the
// groups, GetSignInFacts) and as the calls that read the same one by one,
// for a user with two groups, a second factor and a passkey, and one
// source. Run on each backend (sqlite and postgres: BenchmarkSignInReads).
func BenchmarkSignInReads(b *testing.B, newStore func(tb testing.TB) store.Store) {
	ctx := context.Background()
	s, t0, must := benchAgent(b, newStore)
	for _, g := range []users.Group{{ID: "g1", Name: "Sales-ES", Team: "Sales-ES"}, {ID: "g2", Name: "Chat", Roles: []string{"wfo.team_leader"}}} {
		must(s.CreateGroup(ctx, g))
		must(s.AddGroupMembers(ctx, g.ID, "u1"))
	}
	must(s.PutMFA(ctx, store.MFA{UserID: "u1", Secret: []byte("sealed"), ConfirmedAt: t0}))
	must(s.CreatePasskey(ctx, newPasskey("pk1", "u1", "laptop", t0)))
	must(s.CreateDirectory(ctx, store.Directory{Name: "corp", Kind: "ldap", Config: "{}", Domains: []string{"corp.example.com"}}))
	must(s.CreateSession(ctx, store.Session{ID: "s1", UserID: "u1", Index: "i1", AuthnInstant: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}))

	for _, bc := range []struct {
		name string
		read func() error
	}{
		{"SSO/one statement", func() error {
			_, _, gs, err := s.GetSessionUser(ctx, "s1")
			if err == nil && len(gs) != 2 {
				b.Fatalf("%d groups, want 2", len(gs))
			}
			return err
		}},
		{"SSO/one by one", func() error {
			sess, err := s.GetSession(ctx, "s1")
			if err == nil {
				_, err = s.GetUser(ctx, sess.UserID)
			}
			if err == nil {
				_, err = s.UserGroups(ctx, sess.UserID)
			}
			return err
		}},
		{"password/one statement", func() error {
			f, err := s.GetSignInFacts(ctx, "agent@example.com")
			if err == nil && (f.User == nil || len(f.Groups) != 2 || f.Passkeys != 1 || f.MFA == nil || len(f.Directories) != 1) {
				b.Fatalf("facts %+v", f)
			}
			return err
		}},
		{"password/one by one", func() error {
			u, err := s.GetUserByEmail(ctx, "agent@example.com")
			if err != nil {
				return err
			}
			if _, err := s.GetUserLink(ctx, u.ID); err != nil && !errorsIsNotFound(err) {
				return err
			}
			if _, err := s.GetMFA(ctx, u.ID); err != nil {
				return err
			}
			if _, err := s.ListPasskeys(ctx, u.ID); err != nil {
				return err
			}
			if _, err := s.UserGroups(ctx, u.ID); err != nil {
				return err
			}
			_, err = s.ListDirectories(ctx)
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.read(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func errorsIsNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
