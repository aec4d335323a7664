package accounts_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/directory"
	"github.com/flexidp/flexidp/internal/keys"
	"github.com/flexidp/flexidp/internal/ldaptest"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/sqlite/sqlitetest"
	"github.com/flexidp/flexidp/internal/users"
)

// ldapSource is a source for the test server s, its groups mapped.
func ldapSource(s *ldaptest.Server) accounts.Source {
	return accounts.Source{Name: "corp", Kind: accounts.KindLDAP, Password: ldaptest.ServicePW,
		LDAP: accounts.LDAPSettings{URLs: []string{s.LDAPS}, CAPEM: string(s.CAPEM), BindDN: ldaptest.ServiceDN,
			UserBase: ldaptest.UsersDN, GroupBase: ldaptest.GroupsDN,
			Groups: map[string]string{ldaptest.AgentsDN: "agents", strings.ToUpper(ldaptest.FloorDN): "floor", "cn=nobody,dc=x": "unused"}}}
}

func deadLDAPS(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "ldaps://" + l.Addr().String()
}

// TestDirectorySignIn: a directory user appears at their first sign-in,
// by any of their names, and is kept in step; a wrong password, an
// injection, a leaver, a local account's email and an outage each get
// their own answer, and the throttle is applied before the directory is
// asked.
func TestDirectorySignIn(t *testing.T) {
	ctx := context.Background()
	s := ldaptest.Start(t)
	f := newFixture(t)
	if _, err := f.svc.AddDirectory(ctx, admin, ldapSource(s)); err != nil {
		t.Fatal(err)
	}
	local := f.addUser(t, "sam@acme.test") // a local account with a directory user's email

	alice, err := signIn(f, "alice@acme.test", ldaptest.AlicePW)
	if err != nil {
		t.Fatal(err)
	}
	if alice.Email != "alice@acme.test" || alice.FullName != "Alice Agent" || alice.GivenName != "Alice" || alice.FamilyName != "Agent" ||
		alice.PasswordHash != "" || alice.Disabled {
		t.Fatalf("just-in-time user %+v", alice)
	}
	link, err := f.st.GetUserLink(ctx, alice.ID)
	if err != nil || link.Directory != "corp" || link.ExternalID != directory.Canonical(ldaptest.AliceDN) {
		t.Fatalf("link %+v, %v", link, err)
	}
	added := f.audit(t, "admin.user.add")
	if len(added) != 2 || added[0].Actor != "directory:corp" || added[0].UserID != alice.ID {
		t.Fatalf("user.add events %+v, want the newest by directory:corp", added)
	}
	grp := f.audit(t, "admin.user.directory-groups")
	if len(grp) != 1 || !strings.Contains(string(grp[0].Details), `"groups":["agents","floor"]`) {
		t.Fatalf("mapped groups %+v", grp)
	}
	for _, name := range []string{"alice", "ALICE@acme.test"} {
		again, err := signIn(f, name, ldaptest.AlicePW)
		if err != nil || again.ID != alice.ID {
			t.Fatalf("sign-in as %q: %+v, %v; want the same user", name, again, err)
		}
	}

	// Kept in step: a new name in the directory is flexidp's at the next sign-in.
	s.Replace(t, ldaptest.AliceDN, "displayName", "Alice Renamed")
	if u, err := signIn(f, "alice", ldaptest.AlicePW); err != nil || u.FullName != "Alice Renamed" {
		t.Fatalf("after a rename: %+v, %v", u, err)
	}
	if ev := f.audit(t, "admin.user.update"); len(ev) != 1 || ev[0].Actor != "directory:corp" {
		t.Fatalf("update events %+v", ev)
	}

	for _, tc := range []struct{ name, login, pw string }{
		{"wrong password", "alice", "wrong"},
		{"empty password", "alice", ""},
		{"injection", "*)(uid=*", ldaptest.AlicePW},
		{"wildcard", "ali*", ldaptest.AlicePW},
		{"outside the base", "carl", ldaptest.CarlPW},
		{"disabled, never created", "bob", ldaptest.BobPW},
		{"local account's email is not taken over", "sam@acme.test", ldaptest.SamPW},
		{"sAMAccountName of a user whose email is local's", "sam", ldaptest.SamPW},
	} {
		if _, err := signIn(f, tc.login, tc.pw); !errors.Is(err, accounts.ErrBadCredentials) {
			t.Errorf("%s: %v, want ErrBadCredentials", tc.name, err)
		}
	}
	if _, err := f.st.GetUserByEmail(ctx, "bob@acme.test"); err == nil {
		t.Error("a disabled directory user got an account")
	}
	if _, err := f.st.GetUserLink(ctx, local.ID); err == nil {
		t.Error("the local account was linked to the directory")
	}
	if u, err := signIn(f, "sam@acme.test", goodPassword); err != nil || u.ID != local.ID {
		t.Errorf("the local account's own password: %v", err)
	}

	// A leaver: disabled in the directory, disabled in flexidp, sessions ended.
	f.session(t, alice, "alice-session")
	s.Replace(t, ldaptest.AliceDN, "userAccountControl", "514")
	if _, err := signIn(f, "alice", ldaptest.AlicePW); !errors.Is(err, accounts.ErrDisabled) {
		t.Fatalf("leaver: %v, want ErrDisabled", err)
	}
	if u, _ := f.st.GetUser(ctx, alice.ID); !u.Disabled {
		t.Error("the leaver is still enabled in flexidp")
	}
	if ss, _ := f.st.ListSessions(ctx, alice.ID); len(ss) != 0 {
		t.Errorf("the leaver kept %d sessions", len(ss))
	}
	if ev := f.audit(t, "admin.user.disable"); len(ev) != 1 || ev[0].Actor != "directory:corp" {
		t.Fatalf("disable events %+v", ev)
	}
}

// TestDirectoryOutageAndThrottle: an unreachable directory is "try
// again", never a password failure, and counts no failure; a locked
// account is refused before the directory is asked.
func TestDirectoryOutageAndThrottle(t *testing.T) {
	ctx := context.Background()
	s := ldaptest.Start(t)
	f := newFixture(t)
	if _, err := f.svc.AddDirectory(ctx, admin, ldapSource(s)); err != nil {
		t.Fatal(err)
	}
	if _, err := signIn(f, "alice", ldaptest.AlicePW); err != nil {
		t.Fatal(err)
	}
	working := s.LDAPS
	dead := deadLDAPS(t)
	setURLs := func(urls ...string) {
		t.Helper()
		if _, err := f.svc.UpdateDirectory(ctx, admin, "corp", func(src *accounts.Source) error {
			src.LDAP.URLs = urls
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	setURLs(dead)
	for range f.svc.Lockout().LockAfter + 1 {
		_, err := signIn(f, "alice@acme.test", ldaptest.AlicePW)
		if !errors.Is(err, accounts.ErrDirectoryUnavailable) || errors.Is(err, accounts.ErrBadCredentials) {
			t.Fatalf("outage: %v, want ErrDirectoryUnavailable", err)
		}
	}
	if ev := f.audit(t, accounts.AuditSignInFailure); len(ev) == 0 || ev[0].Reason != "directory unavailable" {
		t.Errorf("outage not audited as such: %+v", ev)
	}
	if st, err := f.svc.DirectoryStatus(ctx); err != nil || len(st) != 1 || st[0].Err == nil {
		t.Errorf("DirectoryStatus during the outage = %+v, %v", st, err)
	}
	setURLs(dead, working) // the fallback answers
	if _, err := signIn(f, "alice@acme.test", ldaptest.AlicePW); err != nil {
		t.Fatalf("outages counted as failures, or the fallback was not used: %v", err)
	}
	if st, err := f.svc.DirectoryStatus(ctx); err != nil || st[0].Err != nil {
		t.Errorf("DirectoryStatus = %+v, %v", st, err)
	}

	// Lock the account with wrong passwords, then take the directory away:
	// the refusal is the lock's, so the directory was never asked.
	lock := f.svc.Lockout()
	for range lock.LockAfter {
		_, _ = signIn(f, "alice@acme.test", "wrong")
		f.now = f.now.Add(lock.MaxDelay)
	}
	setURLs(dead)
	var th *accounts.ThrottledError
	if _, err := signIn(f, "alice@acme.test", ldaptest.AlicePW); !errors.As(err, &th) {
		t.Fatalf("locked account: %v, want *ThrottledError before the directory is asked", err)
	}
}

// TestDirectoryConfig: sources are validated, their password sealed at
// rest and never shown, every change audited.
func TestDirectoryConfig(t *testing.T) {
	ctx := context.Background()
	s := ldaptest.Start(t)
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
		{"bad name", func(s *accounts.Source) { s.Name = "Corp AD" }, "lower-case"},
		{"plain LDAP", func(s *accounts.Source) { s.LDAP.URLs = []string{"ldap://dc1"} }, "in the clear"},
		{"no password", func(s *accounts.Source) { s.Password = "" }, "service account"},
		{"bad domain", func(s *accounts.Source) { s.Domains = []string{"acme"} }, "not an email domain"},
		{"empty group", func(s *accounts.Source) { s.LDAP.Groups = map[string]string{"cn=a,dc=b": " "} }, "no flexidp group"},
	} {
		src := ldapSource(s)
		tc.f(&src)
		if _, err := svc.AddDirectory(ctx, admin, src); accounts.ErrorCode(err) != accounts.Invalid || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want Invalid %q", tc.name, err, tc.want)
		}
	}
	src := ldapSource(s)
	src.Domains = []string{"@ACME.test", "acme.test"}
	got, err := svc.AddDirectory(ctx, admin, src)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Domains, []string{"acme.test"}) || got.Password != "" || !got.HasPassword {
		t.Errorf("added %+v", got)
	}
	if _, err := svc.AddDirectory(ctx, admin, src); accounts.ErrorCode(err) != accounts.Conflict {
		t.Errorf("second add: %v, want Conflict", err)
	}
	stored, err := st.GetDirectory(ctx, "corp")
	if err != nil {
		t.Fatal(err)
	}
	if !keys.IsSealed(stored.Secret) || strings.Contains(string(stored.Secret), ldaptest.ServicePW) || strings.Contains(stored.Config, ldaptest.ServicePW) {
		t.Fatalf("the service password is not sealed at rest: %q / %q", stored.Secret, stored.Config)
	}
	// A change that does not give a password keeps the stored one.
	if _, err := svc.UpdateDirectory(ctx, admin, "corp", func(s *accounts.Source) error { s.LDAP.TimeoutSeconds = 3; return nil }); err != nil {
		t.Fatal(err)
	}
	probe, err := svc.TestDirectory(ctx, "corp", "sam")
	if err != nil || probe.Entry.DN != ldaptest.SamDN || !slices.Equal(probe.Groups, []string{"floor"}) {
		t.Fatalf("TestDirectory = %+v, %v", probe, err)
	}
	if _, err := svc.TestDirectory(ctx, "corp", "carl"); accounts.ErrorCode(err) != accounts.NotFound {
		t.Errorf("TestDirectory of a user outside the base: %v", err)
	}
	if _, err := svc.UpdateDirectory(ctx, admin, "corp", func(s *accounts.Source) error { s.Password = "wrong"; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.TestDirectory(ctx, "corp", ""); accounts.ErrorCode(err) != accounts.Unavailable || !errors.Is(err, accounts.ErrDirectoryUnavailable) {
		t.Errorf("TestDirectory with a wrong service password: %v, want Unavailable", err)
	}
	if err := svc.RemoveDirectory(ctx, admin, "corp"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.GetDirectory(ctx, "corp"); accounts.ErrorCode(err) != accounts.NotFound {
		t.Errorf("after remove: %v", err)
	}
	var actions []string
	evs, _ := svc.SearchAudit(ctx, store.AuditFilter{Action: "admin"})
	for _, e := range evs {
		if strings.Contains(string(e.Details), ldaptest.ServicePW) || strings.Contains(string(e.Details), `"wrong"`) {
			t.Errorf("audit event %s shows the password: %s", e.Action, e.Details)
		}
		if e.Actor == admin.Name {
			actions = append(actions, e.Action)
		}
	}
	if strings.Join(actions, ",") != "admin.directory.remove,admin.directory.update,admin.directory.update,admin.directory.add" {
		t.Errorf("audited %v", actions)
	}
}

func TestMapGroups(t *testing.T) {
	m := map[string]string{directory.Canonical("CN=Agents,OU=Groups,DC=acme,DC=test"): "agents", directory.Canonical("cn=b,dc=x"): "agents",
		directory.Canonical("cn=c,dc=x"): "leads"}
	got := accounts.MapGroups(m, []string{"cn=agents, ou=groups, dc=acme, dc=test", "cn=b,dc=x", "cn=unmapped,dc=x", "cn=c,dc=x"})
	if !slices.Equal(got, []string{"agents", "leads"}) {
		t.Errorf("MapGroups = %v", got)
	}
}

// TestDirectoryRouting: each email domain goes to the source an
// administrator named for it, and only there; a login no source names
// goes to the sources that name no domain.
func TestDirectoryRouting(t *testing.T) {
	ctx := context.Background()
	s := ldaptest.Start(t)
	f := newFixture(t)
	corp := ldapSource(s)
	corp.Domains = []string{"acme.test"}
	down := ldapSource(s)
	down.Name, down.Domains, down.LDAP.URLs = "partner", []string{"partner.test"}, []string{deadLDAPS(t)}
	for _, src := range []accounts.Source{corp, down} {
		if _, err := f.svc.AddDirectory(ctx, admin, src); err != nil {
			t.Fatal(err)
		}
	}
	// partner is down, but acme.test never asks it.
	if _, err := signIn(f, "alice@acme.test", ldaptest.AlicePW); err != nil {
		t.Fatalf("acme.test through corp: %v", err)
	}
	// partner.test is partner's only: down means "try again".
	if _, err := signIn(f, "someone@partner.test", "x"); !errors.Is(err, accounts.ErrDirectoryUnavailable) {
		t.Fatalf("partner.test: %v, want ErrDirectoryUnavailable", err)
	}
	// No source names "alice" (no domain), and none is open.
	if _, err := signIn(f, "sam", ldaptest.SamPW); !errors.Is(err, accounts.ErrBadCredentials) {
		t.Fatalf("a login no source names: %v", err)
	}
	// A local contractor keeps a flexidp password.
	f.addUser(t, "contractor@example.com")
	if _, err := signIn(f, "contractor@example.com", goodPassword); err != nil {
		t.Fatalf("local contractor: %v", err)
	}
	for _, tc := range []struct {
		email string
		want  accounts.SignInRoute
	}{
		{"", accounts.SignInRoute{EmailFirst: true}},
		{"Bob@ACME.test", accounts.SignInRoute{EmailFirst: true, Source: "corp", SourceKind: accounts.KindLDAP}},
		{"x@partner.test", accounts.SignInRoute{EmailFirst: true, Source: "partner", SourceKind: accounts.KindLDAP}},
		{"contractor@example.com", accounts.SignInRoute{EmailFirst: true}},
	} {
		if got, err := f.svc.RouteFor(ctx, tc.email); err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("RouteFor(%q) = %+v, %v; want %+v", tc.email, got, err, tc.want)
		}
	}
	if got, _ := newFixture(t).svc.RouteFor(ctx, "a@acme.test"); got.EmailFirst {
		t.Error("without sources the page asks for the email first")
	}
}

// TestSyncDirectories: the periodic sync disables a user whose entry is
// disabled or gone (their sessions end, before any next sign-in), keeps
// the others in step, and disables nobody while the source is down.
func TestSyncDirectories(t *testing.T) {
	ctx := context.Background()
	s := ldaptest.Start(t)
	f := newFixture(t)
	if _, err := f.svc.AddDirectory(ctx, admin, ldapSource(s)); err != nil {
		t.Fatal(err)
	}
	alice, err := signIn(f, "alice", ldaptest.AlicePW)
	if err != nil {
		t.Fatal(err)
	}
	sam, err := signIn(f, "sam", ldaptest.SamPW)
	if err != nil {
		t.Fatal(err)
	}
	f.session(t, alice, "alice-session")
	f.session(t, sam, "sam-session")
	if sum, err := f.svc.SyncDirectories(ctx); err != nil || sum != (accounts.DirectorySync{Checked: 2}) {
		t.Fatalf("sync with nothing changed = %+v, %v", sum, err)
	}

	// The source goes away: nobody is disabled.
	working := s.LDAPS
	setURLs := func(urls ...string) {
		t.Helper()
		if _, err := f.svc.UpdateDirectory(ctx, admin, "corp", func(src *accounts.Source) error { src.LDAP.URLs = urls; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	setURLs(deadLDAPS(t))
	s.Replace(t, ldaptest.AliceDN, "userAccountControl", "514")
	if _, err := f.svc.SyncDirectories(ctx); !errors.Is(err, accounts.ErrDirectoryUnavailable) {
		t.Fatalf("sync during an outage: %v, want ErrDirectoryUnavailable", err)
	}
	if u, _ := f.st.GetUser(ctx, alice.ID); u.Disabled {
		t.Fatal("an outage disabled a user")
	}

	// Back: alice is disabled there, sam deleted.
	setURLs(working)
	s.Delete(t, ldaptest.SamDN)
	sum, err := f.svc.SyncDirectories(ctx)
	if err != nil || sum != (accounts.DirectorySync{Checked: 2, Disabled: 2}) {
		t.Fatalf("sync = %+v, %v; want both disabled", sum, err)
	}
	for _, u := range []users.User{alice, sam} {
		got, _ := f.st.GetUser(ctx, u.ID)
		ss, _ := f.st.ListSessions(ctx, u.ID)
		if !got.Disabled || len(ss) != 0 {
			t.Errorf("%s: disabled %v, %d sessions; want disabled without sessions", u.Email, got.Disabled, len(ss))
		}
	}
	var reasons []string
	for _, e := range f.audit(t, "admin.user.disable") {
		if e.Actor != "directory:corp" {
			t.Errorf("disabled by %q", e.Actor)
		}
		reasons = append(reasons, e.Reason)
	}
	if joined := strings.Join(reasons, "|"); !strings.Contains(joined, "no longer in the directory") || !strings.Contains(joined, "disabled in the directory") {
		t.Errorf("reasons %q", joined)
	}
}
