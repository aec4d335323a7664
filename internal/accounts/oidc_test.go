package accounts_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/keys"
	"github.com/flexidp/flexidp/internal/ldaptest"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/sqlite/sqlitetest"
	"github.com/flexidp/flexidp/internal/users"
)

const clientSecret = "s3cret-of-the-client"

func oidcSource(issuer string) accounts.Source {
	return accounts.Source{Name: "google", Kind: accounts.KindOIDC, Domains: []string{"acme.test"}, Password: clientSecret,
		OIDC: accounts.OIDCSettings{Issuer: issuer, ClientID: "flexidp", Groups: map[string]string{"floor": "agents"}}}
}

// TestOIDCSourceConfig: an OpenID Connect source is checked (domains
// required, an https issuer, a client ID and secret), its client secret
// is sealed at rest and never audited, its connection is tested by
// discovery, and a password typed for its domain is refused as an
// unknown account (never sent anywhere, never a failure of the server).
func TestOIDCSourceConfig(t *testing.T) {
	ctx := context.Background()
	op, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Shutdown() })
	sealer, err := keys.NewSealerFor("directory secret", "directory password", "IDP_KEY_ENCRYPTION_KEY", "0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	st := sqlitetest.New(t)
	svc := accounts.New(accounts.Config{Store: st, Secrets: sealer, Log: slog.New(slog.DiscardHandler),
		Hasher: users.NewHasher(users.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 1)})

	for _, tc := range []struct {
		name string
		f    func(*accounts.Source)
		want string
	}{
		{"no domains", func(s *accounts.Source) { s.Domains = nil }, "give at least one"},
		{"http issuer", func(s *accounts.Source) { s.OIDC.Issuer = "http://accounts.example.com" }, "not an https:// URL"},
		{"no client ID", func(s *accounts.Source) { s.OIDC.ClientID = "" }, "client ID"},
		{"no secret", func(s *accounts.Source) { s.Password = "" }, "client secret"},
		{"empty group", func(s *accounts.Source) { s.OIDC.Groups = map[string]string{"floor": " "} }, "no flexidp group"},
	} {
		src := oidcSource(op.Issuer())
		tc.f(&src)
		if _, err := svc.AddDirectory(ctx, admin, src); accounts.ErrorCode(err) != accounts.Invalid || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want Invalid %q", tc.name, err, tc.want)
		}
	}
	if _, err := svc.AddDirectory(ctx, admin, oidcSource(op.Issuer())); err != nil {
		t.Fatal(err)
	}
	stored, err := st.GetDirectory(ctx, "google")
	if err != nil {
		t.Fatal(err)
	}
	if !keys.IsSealed(stored.Secret) || strings.Contains(string(stored.Secret), clientSecret) || strings.Contains(stored.Config, clientSecret) {
		t.Fatalf("the client secret is not sealed at rest: %q / %q", stored.Secret, stored.Config)
	}
	got, err := svc.GetDirectory(ctx, "google")
	if err != nil || got.OIDC.Issuer != op.Issuer() || got.OIDC.Groups["floor"] != "agents" || !got.HasPassword {
		t.Fatalf("GetDirectory = %+v, %v", got, err)
	}
	if _, err := svc.TestDirectory(ctx, "google", ""); err != nil {
		t.Errorf("TestDirectory of a live provider: %v", err)
	}
	start, err := svc.BeginOIDC(ctx, "google", "https://idp.example/login/oidc/callback")
	if err != nil || !strings.Contains(start.URL, "code_challenge_method=S256") || !strings.Contains(start.URL, "nonce="+start.Nonce) ||
		strings.Contains(start.URL, start.Verifier) {
		t.Errorf("BeginOIDC = %+v, %v: want PKCE S256 and a nonce, never the verifier", start, err)
	}

	// A password typed for the provider's domain goes nowhere.
	if _, err := svc.SignIn(ctx, accounts.SignInRequest{Email: "alice@acme.test", Password: "x"}); !errors.Is(err, accounts.ErrBadCredentials) {
		t.Errorf("password sign-in in an OIDC domain: %v, want ErrBadCredentials", err)
	}
	if r, err := svc.RouteFor(ctx, "alice@acme.test"); err != nil || r.SourceKind != accounts.KindOIDC || r.Source != "google" {
		t.Errorf("RouteFor = %+v, %v", r, err)
	}

	// The provider goes away: "unavailable", for readiness and the CLI.
	if err := op.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.TestDirectory(ctx, "google", ""); !errors.Is(err, accounts.ErrDirectoryUnavailable) {
		t.Errorf("TestDirectory of a provider that is down: %v, want ErrDirectoryUnavailable", err)
	}
	evs, _ := svc.SearchAudit(ctx, store.AuditFilter{Action: "admin.directory"})
	if len(evs) == 0 {
		t.Fatal("the source's addition is not audited")
	}
	for _, e := range evs {
		if strings.Contains(string(e.Details), clientSecret) {
			t.Errorf("audit event %s shows the client secret: %s", e.Action, e.Details)
		}
	}
}

// TestDirectoryGroupMemberships: the groups a source maps a user's
// directory groups to are their flexidp group memberships, kept in step
// at every sign-in and by the periodic sync, each change audited as the
// source; a group an administrator gave them stays.
func TestDirectoryGroupMemberships(t *testing.T) {
	ctx := context.Background()
	s := ldaptest.Start(t)
	f := newFixture(t)
	f.addGroup(t, users.Group{Name: "agents", Roles: []string{"agent"}, Team: "Floor",
		Attributes: attrSet(t, "skills.stringarray", "billing,vip")})
	f.addGroup(t, users.Group{Name: "floor"})
	f.addGroup(t, users.Group{Name: "Night"})
	if _, err := f.svc.AddDirectory(ctx, admin, ldapSource(s)); err != nil {
		t.Fatal(err)
	}
	groupsOf := func() string {
		t.Helper()
		u, err := f.svc.FindUser(ctx, "alice@acme.test")
		if err != nil {
			t.Fatal(err)
		}
		gs, err := f.svc.GroupsOf(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, g := range gs {
			names = append(names, g.Name)
		}
		return strings.Join(names, ",")
	}
	if _, err := signIn(f, "alice@acme.test", ldaptest.AlicePW); err != nil {
		t.Fatal(err)
	}
	if got := groupsOf(); got != "agents,floor" {
		t.Fatalf("after the first sign-in: groups %q, want agents,floor (agents directly, floor-staff nested)", got)
	}
	p, err := f.svc.Profile(ctx, mustFind(t, f, "alice@acme.test"))
	if err != nil || strings.Join(p.User.Roles, ",") != "agent" || p.User.Team != "Floor" || p.User.Attributes["skills.stringarray"].String() != "billing,vip" {
		t.Fatalf("effective profile %+v, %v: want the mapped group's roles, team and skills", p, err)
	}
	if err := f.svc.AddMembers(ctx, admin, "Night", "alice@acme.test"); err != nil {
		t.Fatal(err)
	}
	// floor-staff now maps to nothing alice is in: she leaves floor at
	// her next sign-in; Night, an administrator's, stays.
	if _, err := f.svc.UpdateDirectory(ctx, admin, "corp", func(src *accounts.Source) error {
		src.LDAP.Groups = map[string]string{ldaptest.AgentsDN: "agents", "cn=nobody,dc=x": "floor"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := signIn(f, "alice@acme.test", ldaptest.AlicePW); err != nil {
		t.Fatal(err)
	}
	if got := groupsOf(); got != "agents,Night" {
		t.Fatalf("after the mapping changed: groups %q, want agents,Night", got)
	}
	// The periodic sync applies a change without a sign-in.
	if _, err := f.svc.UpdateDirectory(ctx, admin, "corp", func(src *accounts.Source) error {
		src.LDAP.Groups = map[string]string{ldaptest.AgentsDN: "agents", ldaptest.FloorDN: "floor"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SyncDirectories(ctx); err != nil {
		t.Fatal(err)
	}
	if got := groupsOf(); got != "agents,floor,Night" {
		t.Fatalf("after the sync: groups %q, want agents,floor,Night", got)
	}
	var byDir []string
	for _, e := range f.audit(t, "admin.group") {
		if e.Actor == "directory:corp" {
			byDir = append(byDir, e.Action+" "+e.Reason)
		}
	}
	if strings.Join(byDir, "; ") != "admin.group.member-add group floor; admin.group.member-remove group floor; admin.group.member-add group floor; admin.group.member-add group agents" {
		t.Errorf("membership changes audited as the source: %q", byDir)
	}
}

func mustFind(t *testing.T, f *fixture, email string) users.User {
	t.Helper()
	u, err := f.svc.FindUser(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
