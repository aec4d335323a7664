package storetest

import (
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/store"
)

// testGetSignInFacts: one call returns what GetUserByEmail, GetUserLink,
// GetMFA, ListPasskeys, UserGroups and ListDirectories return one by one
// (the email matched as GetUserByEmail matches it), for a local account,
// a linked one, an unknown email, and without any source.
func testGetSignInFacts(t *testing.T, s store.Store) {
	ctx := t.Context()
	empty, err := s.GetSignInFacts(ctx, "nobody@example.com")
	noErr(t, err, "GetSignInFacts without users or sources")
	same(t, "GetSignInFacts without users or sources", empty, store.SignInFacts{})

	createUser(t, s, newUser(t, "u1", "one@example.com"))
	createUser(t, s, newUser(t, "u2", "two@acme.com"))
	createUser(t, s, newUser(t, "u3", "three@example.com")) // nothing but itself
	createGroup(t, s, newGroup(t, "gb", "beta"))
	createGroup(t, s, newGroup(t, "ga", "Alpha"))
	createGroup(t, s, newGroup(t, "gc", "gamma"))
	noErr(t, s.AddGroupMembers(ctx, "gb", "u1"), "AddGroupMembers")
	noErr(t, s.AddGroupMembers(ctx, "ga", "u1"), "AddGroupMembers")
	noErr(t, s.AddGroupMembers(ctx, "gc", "u2"), "AddGroupMembers")
	noErr(t, s.PutMFA(ctx, store.MFA{UserID: "u1", Secret: []byte("sealed"), ConfirmedAt: t0, RecoveryCodes: []string{"h1", "h2"},
		CreatedAt: t0, UpdatedAt: t0}), "PutMFA")
	for i, id := range []string{"pk1", "pk2"} {
		noErr(t, s.CreatePasskey(ctx, newPasskey(id, "u1", id, t0.Add(time.Duration(i)*time.Minute))), "CreatePasskey")
	}
	noErr(t, s.CreatePasskey(ctx, newPasskey("pk3", "u2", "pk3", t0)), "CreatePasskey")
	noErr(t, s.CreateDirectory(ctx, store.Directory{Name: "corp", Kind: "ldap", Config: `{"urls":["ldaps://dc1"]}`,
		Secret: []byte("sealed:xyz"), Domains: []string{"acme.com"}}), "CreateDirectory")
	noErr(t, s.CreateDirectory(ctx, store.Directory{Name: "b-first", Kind: "ldap", Config: "{}"}), "CreateDirectory")
	noErr(t, s.LinkUser(ctx, store.DirectoryLink{UserID: "u2", Directory: "corp", ExternalID: "cn=two"}), "LinkUser")

	dirs, err := s.ListDirectories(ctx)
	noErr(t, err, "ListDirectories")
	for _, tc := range []struct {
		name, email, user string
	}{
		{"local account with groups, factor and passkeys", "One@Example.COM", "u1"},
		{"linked account", "two@acme.com", "u2"},
		{"account with nothing else", "three@example.com", "u3"},
		{"unknown email", "nobody@example.com", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.GetSignInFacts(ctx, tc.email)
			noErr(t, err, "GetSignInFacts")
			want := store.SignInFacts{Directories: dirs}
			if tc.user != "" {
				u, err := s.GetUserByEmail(ctx, tc.email)
				noErr(t, err, "GetUserByEmail")
				want.User = &u
				if l, err := s.GetUserLink(ctx, u.ID); err == nil {
					want.Link = &l
				}
				if m, err := s.GetMFA(ctx, u.ID); err == nil {
					want.MFA = &m
				}
				pks, err := s.ListPasskeys(ctx, u.ID)
				noErr(t, err, "ListPasskeys")
				want.Passkeys = len(pks)
				want.Groups, err = s.UserGroups(ctx, u.ID)
				noErr(t, err, "UserGroups")
			}
			same(t, "GetSignInFacts", got, want)
		})
	}
	if f, err := s.GetSignInFacts(ctx, "one@example.com"); err != nil || f.Passkeys != 2 || len(f.Groups) != 2 || f.Groups[0].ID != "ga" ||
		f.MFA == nil || f.Link != nil || len(f.Directories) != 2 || f.Directories[0].Name != "b-first" {
		t.Errorf("GetSignInFacts(one) = %+v, %v; want 2 passkeys, groups ga then gb, a factor, no link, sources b-first then corp", f, err)
	}

}
