package server_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/ldaptest"
	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// TestDirectorySignInEndToEnd: an agent signs in to Flex with their
// directory password; the Response carries what the directory says (name,
// email) and what flexidp adds (roles, team), checked by crewjam's SP and
// xmlsec1. An outage is a "try again" page (not a password error), on
// /readyz and in the metrics; a leaver disabled in the directory can no
// longer sign in.
func TestDirectorySignInEndToEnd(t *testing.T) {
	ctx := context.Background()
	dir := ldaptest.Start(t)
	h := newTestIdP(t, idpOptions{MetricsToken: testMetricsToken})
	src := accounts.Source{Name: "corp", Kind: accounts.KindLDAP, Password: ldaptest.ServicePW,
		LDAP: accounts.LDAPSettings{URLs: []string{dir.LDAPS}, CAPEM: string(dir.CAPEM), BindDN: ldaptest.ServiceDN,
			UserBase: ldaptest.UsersDN, GroupBase: ldaptest.GroupsDN}}
	if _, err := h.Accounts.AddDirectory(ctx, admin, src); err != nil {
		t.Fatal(err)
	}
	sp := samltest.FlexSP(t, h.URL)
	certPEM := h.certificate(t)

	// First sign-in: the account appears (no role yet, so no Flex).
	b := samltest.NewBrowser(t)
	_, page := b.Get(h.URL + "/login")
	status, body := b.Login(h.URL, page, "alice@acme.test", ldaptest.AlicePW)
	samltest.WantStatus(t, "first directory sign-in", status, http.StatusOK, body)
	samltest.MustContain(t, body, "Your applications")
	if _, err := h.Accounts.UpdateUser(ctx, admin, "alice@acme.test", "user.update", func(u *users.User) error {
		u.Roles, u.Team = []string{"agent"}, "Floor"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	dir.Replace(t, ldaptest.AliceDN, "displayName", "Alice Renamed")

	// To Flex: the directory's current name, flexidp's roles and team.
	b = samltest.NewBrowser(t)
	page, reqID := b.StartSignIn(sp)
	status, body = b.Login(h.URL, page, "alice@acme.test", ldaptest.AlicePW)
	samltest.WantStatus(t, "directory sign-in to Flex", status, http.StatusOK, body)
	form := samltest.Form(t, body)
	assertion := samltest.Accepts(t, sp, form, reqID)
	attrs := samltest.Values(assertion)
	for k, v := range map[string]string{"email": "alice@acme.test", "full_name": "Alice Renamed", "roles": "agent", "team": "Floor"} {
		if strings.Join(attrs[k], "|") != v {
			t.Errorf("attribute %s = %q, want %q", k, attrs[k], v)
		}
	}
	samltest.VerifyWithXmlsec(t, form.XML, certPEM)

	// The directory goes away: "try again", never "wrong password".
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "ldaps://" + l.Addr().String()
	l.Close()
	setURLs := func(urls ...string) {
		t.Helper()
		if _, err := h.Accounts.UpdateDirectory(ctx, admin, "corp", func(s *accounts.Source) error { s.LDAP.URLs = urls; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	setURLs(dead)
	b = samltest.NewBrowser(t)
	page, _ = b.StartSignIn(sp)
	status, body = b.Login(h.URL, page, "alice@acme.test", ldaptest.AlicePW)
	samltest.WantStatus(t, "sign-in during an outage", status, http.StatusServiceUnavailable, body)
	samltest.MustContain(t, body, "could not reach your organisation", "try again", `name="password"`)
	if strings.Contains(body, "Wrong email or password") {
		t.Error("an outage was shown as a password error")
	}
	status, ready := samltest.NewBrowser(t).Get(h.URL + "/readyz")
	samltest.WantStatus(t, "readyz during an outage", status, http.StatusOK, ready)
	samltest.MustContain(t, ready, "ready\n", "directory corp: unreachable")
	if strings.Contains(ready, "127.0.0.1") {
		t.Errorf("/readyz shows the directory's address: %q", ready)
	}
	req, _ := http.NewRequest(http.MethodGet, h.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testMetricsToken)
	_, metrics := samltest.NewBrowser(t).Do(req)
	samltest.MustContain(t, metrics, `flexidp_signins_total{result="directory_unavailable"} 1`, `flexidp_directory_up{directory="corp"} 0`)

	// Back, and the agent is a leaver: disabled, refused.
	setURLs(dead, dir.LDAPS)
	_, ready = samltest.NewBrowser(t).Get(h.URL + "/readyz")
	samltest.MustContain(t, ready, "directory corp: ok")
	dir.Replace(t, ldaptest.AliceDN, "userAccountControl", "514")
	b = samltest.NewBrowser(t)
	page, _ = b.StartSignIn(sp)
	status, body = b.Login(h.URL, page, "alice@acme.test", ldaptest.AlicePW)
	samltest.WantStatus(t, "leaver", status, http.StatusForbidden, body)
	if strings.Contains(body, "SAMLResponse") {
		t.Fatal("a leaver got a Response")
	}
	evs, err := h.Store.ListAudit(ctx, store.AuditFilter{User: "alice@acme.test", Action: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	var byDir []string
	for _, e := range evs {
		if e.Actor == "directory:corp" {
			byDir = append(byDir, e.Action)
		}
	}
	if strings.Join(byDir, ",") != "admin.user.disable,admin.user.update,admin.user.add" {
		t.Errorf("the directory's changes in the audit trail: %v", byDir)
	}
}

// TestEmailFirstLogin: with a source configured the login page asks for
// the email first, in plain forms (no script), then for the password of
// the source that signs in that domain.
func TestEmailFirstLogin(t *testing.T) {
	ctx := context.Background()
	dir := ldaptest.Start(t)
	h := newTestIdP(t, idpOptions{})
	sp := samltest.FlexSP(t, h.URL)
	b := samltest.NewBrowser(t)
	page, _ := b.StartSignIn(sp)
	if !strings.Contains(page, `name="password"`) || strings.Contains(page, `name="step"`) {
		t.Fatalf("without sources the password is asked at once:\n%s", page)
	}
	if _, err := h.Accounts.AddDirectory(ctx, admin, accounts.Source{Name: "corp", Kind: accounts.KindLDAP, Password: ldaptest.ServicePW,
		Domains: []string{"acme.test"}, LDAP: accounts.LDAPSettings{URLs: []string{dir.LDAPS}, CAPEM: string(dir.CAPEM),
			BindDN: ldaptest.ServiceDN, UserBase: ldaptest.UsersDN}}); err != nil {
		t.Fatal(err)
	}
	page, reqID := b.StartSignIn(sp)
	if strings.Contains(page, `name="password"`) || !strings.Contains(page, `name="step" value="email"`) {
		t.Fatalf("with a source the email comes first:\n%s", page)
	}
	f := samltest.HiddenFields(page)
	step := func(email string) (int, string) {
		return b.Post(h.URL+"/login", url.Values{"csrf": {f["csrf"]}, "state": {f["state"]}, "step": {"email"}, "email": {email}})
	}
	status, body := step("")
	samltest.WantStatus(t, "no email", status, http.StatusBadRequest, body)
	samltest.MustContain(t, body, "Enter your email.")
	status, body = step("Alice@Acme.test")
	samltest.WantStatus(t, "email step", status, http.StatusOK, body)
	samltest.MustContain(t, body, `name="password"`, `value="Alice@Acme.test"`, "Your corp directory password")
	// A local domain: a plain password prompt, which says nothing of accounts.
	_, local := step("agent@example.com")
	samltest.MustContain(t, local, `name="password"`)
	if strings.Contains(local, "directory password") {
		t.Error("a domain no source names was sent to a directory")
	}
	status, body = b.Login(h.URL, local, "agent@example.com", password)
	samltest.WantStatus(t, "local password after the email step", status, http.StatusOK, body)
	samltest.Accepts(t, sp, samltest.Form(t, body), reqID)
}

// TestDirectoryGroupsToFlex: an agent's AD groups (nested ones too) make
// them members of the flexidp groups they are mapped to, and Flex
// receives those groups' roles, team and skills, checked by crewjam's SP
// and xmlsec1.
func TestDirectoryGroupsToFlex(t *testing.T) {
	ctx := context.Background()
	dir := ldaptest.Start(t)
	h := newTestIdP(t, idpOptions{})
	skills, err := attributes.SetOf("skills.stringarray", "billing,vip")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []users.Group{{Name: "agents", Roles: []string{"agent"}, Team: "Floor", Attributes: skills},
		{Name: "floor", Roles: []string{"wfo.team_leader"}}} {
		if _, err := h.Accounts.CreateGroup(ctx, admin, g); err != nil {
			t.Fatal(err)
		}
	}
	src := accounts.Source{Name: "corp", Kind: accounts.KindLDAP, Password: ldaptest.ServicePW,
		LDAP: accounts.LDAPSettings{URLs: []string{dir.LDAPS}, CAPEM: string(dir.CAPEM), BindDN: ldaptest.ServiceDN,
			UserBase: ldaptest.UsersDN, GroupBase: ldaptest.GroupsDN,
			Groups: map[string]string{ldaptest.AgentsDN: "agents", ldaptest.FloorDN: "floor"}}}
	if _, err := h.Accounts.AddDirectory(ctx, admin, src); err != nil {
		t.Fatal(err)
	}
	sp := samltest.FlexSP(t, h.URL)
	b := samltest.NewBrowser(t)
	page, reqID := b.StartSignIn(sp)
	status, body := b.Login(h.URL, page, "alice@acme.test", ldaptest.AlicePW)
	samltest.WantStatus(t, "first directory sign-in, to Flex", status, http.StatusOK, body)
	form := samltest.Form(t, body)
	attrs := samltest.Values(samltest.Accepts(t, sp, form, reqID))
	for k, v := range map[string]string{"email": "alice@acme.test", "roles": "agent,wfo.team_leader", "team": "Floor",
		"skills.stringarray": "billing,vip"} {
		if strings.Join(attrs[k], "|") != v {
			t.Errorf("attribute %s = %q, want %q", k, attrs[k], v)
		}
	}
	samltest.VerifyWithXmlsec(t, form.XML, h.certificate(t))
}
