package accounts_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/saml"
	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// wantCode fails unless err is an accounts error of code (and, when field
// is not "", about field).
func wantCode(t *testing.T, what string, err error, code accounts.Code, field string) {
	t.Helper()
	if accounts.ErrorCode(err) != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, accounts.ErrorCode(err), code)
	}
	if field != "" && accounts.FieldOf(err) != field {
		t.Fatalf("%s: error %v is about %q, want %q", what, err, accounts.FieldOf(err), field)
	}
}

// TestConsoleSecondStep: the console always takes a second factor (its
// code, or its enrolment now), and nobody without a console role is asked
// for one.
func TestConsoleSecondStep(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.addUser(t, "ann@example.com")
	if _, err := f.svc.ConsoleSecondStep(ctx, u); err != accounts.ErrNoConsoleAccess {
		t.Fatalf("no console role: %v, want ErrNoConsoleAccess", err)
	}
	if u, _ = f.svc.Grant(ctx, admin, u.ID, users.ConsoleViewer); u.ConsoleRole != users.ConsoleViewer {
		t.Fatal("grant failed")
	}
	if step, err := f.svc.ConsoleSecondStep(ctx, u); err != nil || step != accounts.Enrol {
		t.Fatalf("console user without a factor: %v, %v; want Enrol (the password alone never opens the console)", step, err)
	}
	if err := f.st.PutMFA(ctx, store.MFA{UserID: u.ID, Secret: []byte("S"), ConfirmedAt: f.now}); err != nil {
		t.Fatal(err)
	}
	if step, err := f.svc.ConsoleSecondStep(ctx, u); err != nil || step != accounts.EnterCode {
		t.Fatalf("console user with a factor: %v, %v; want EnterCode", step, err)
	}
}

// TestNeedsReverify: the last proof covers ReverifyAfter, no longer; no
// proof at all never does.
func TestNeedsReverify(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name     string
		verified time.Time
		want     bool
	}{
		{"never", time.Time{}, true},
		{"just now", f.now, false},
		{"at the limit", f.now.Add(-accounts.ReverifyAfter), false},
		{"past the limit", f.now.Add(-accounts.ReverifyAfter - time.Second), true},
	} {
		if got := f.svc.NeedsReverify(tc.verified); got != tc.want {
			t.Errorf("%s: NeedsReverify = %v, want %v", tc.name, got, tc.want)
		}
	}
	for p, want := range map[accounts.Permission]bool{accounts.ManageKeys: true, accounts.ManageSPs: true, accounts.ManageTokens: true, accounts.ManageConsoleRoles: true,
		accounts.ManageUsers: false, accounts.ReadUsers: false, accounts.ImportExport: false} {
		if accounts.Sensitive(p) != want {
			t.Errorf("Sensitive(%s) = %v, want %v", p, !want, want)
		}
	}
}

// testKeySet is a key set with an active certificate expiring at active
// and, if next is not zero, a next one.
func testKeySet(t *testing.T, active, next time.Time) *saml.KeySet {
	t.Helper()
	cert := func(exp time.Time) *x509.Certificate {
		return &x509.Certificate{Raw: []byte("der-" + exp.Format("2006-01-02")), NotAfter: exp}
	}
	ks := &saml.KeySet{Certificate: cert(active)}
	if !next.IsZero() {
		ks.Published = []*x509.Certificate{cert(next)}
	}
	return ks
}

func checkStates(h accounts.Health) map[string]string {
	m := map[string]string{}
	for _, c := range h.Checks {
		m[c.ID] = c.State + ": " + c.Text
	}
	return m
}

// TestHealth: the checklist finds a missing Flex SP, an expiring
// certificate without a next key, users without a role, a locked account,
// and counts the last 24 hours' sign-ins; the setup values are the ones
// idp flex setup-values prints.
func TestHealth(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ks := testKeySet(t, f.now.Add(10*24*time.Hour), time.Time{})
	h, err := f.svc.Health(ctx, fixtureBase, ks)
	if err != nil {
		t.Fatal(err)
	}
	got := checkStates(h)
	for id, want := range map[string]string{"flex-sp": "fail:", "certificate": "warn:", "next-key": "warn:", "no-role": "ok:", "locked": "ok:",
		"signins": "info: Last 24 hours: 0 sign-ins, 0 refused."} {
		if !strings.HasPrefix(got[id], want) {
			t.Errorf("empty IdP: check %s = %q, want %q…", id, got[id], want)
		}
	}
	if h.Setup.EntityID != "https://idp.example.com/saml/metadata" || h.Setup.SSO != "https://idp.example.com/saml/sso" ||
		!strings.Contains(h.Setup.Active.PEM, "BEGIN CERTIFICATE") {
		t.Errorf("setup values: %+v", h.Setup)
	}

	// Flex registered, a next key, a user without a role, a disabled one
	// without a role (not counted: Flex never sees them), a lockout, and
	// sign-ins inside and outside the last 24 hours.
	if _, err := f.svc.CreateSP(ctx, admin, sp.ServiceProvider{Name: "flex", EntityID: "urn:flex:JQ0123456789abcdef0123456789abcdef",
		ACSURLs: []string{"https://login.flex.us1.twilio.com/login/callback?connection=JQ0123456789abcdef0123456789abcdef"}}); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"norole@example.com", "gone@example.com"} {
		if _, err := f.svc.CreateUser(ctx, admin, accounts.NewUser{User: users.User{Email: email}, NoPassword: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.Disable(ctx, admin, "gone@example.com"); err != nil {
		t.Fatal(err)
	}
	ann := f.addUser(t, "ann@example.com")
	for i := 0; i < accounts.DefaultLockout.LockAfter; i++ {
		if _, err := f.svc.SignIn(ctx, accounts.SignInRequest{Email: ann.Email, Password: "wrong", Address: "198.51.100.1"}); err == nil {
			t.Fatal("a wrong password signed in")
		}
		f.now = f.now.Add(time.Minute) // past the back-off
	}
	for _, at := range []time.Time{f.now.Add(-time.Hour), f.now.Add(-25 * time.Hour)} {
		if err := f.svc.Audit(ctx, store.AuditEvent{Time: at, Action: accounts.AuditSignIn, Actor: ann.Email}); err != nil {
			t.Fatal(err)
		}
	}
	h, err = f.svc.Health(ctx, fixtureBase, testKeySet(t, f.now.Add(400*24*time.Hour), f.now.Add(800*24*time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	got = checkStates(h)
	for id, want := range map[string]string{"flex-sp": "ok: Flex is registered: flex.", "certificate": "ok:", "next-key": "ok:",
		"no-role": "warn: 1 enabled user without a Flex role", "locked": "warn: 1 account or address is locked",
		"signins": "warn: Last 24 hours: 1 sign-in, 10 refused."} {
		if !strings.HasPrefix(got[id], want) {
			t.Errorf("check %s = %q, want %q…", id, got[id], want)
		}
	}
	if len(h.Locked) != 1 || h.Locked[0].Key != accounts.AccountKey(ann.Email) || h.Locked[0].Email != ann.Email {
		t.Fatalf("locked: %+v", h.Locked)
	}
	if len(h.Setup.SPs) != 1 || h.Setup.SPs[0].Flex != sp.FlexEnhanced || h.Setup.SPs[0].IdPInitiated != "https://idp.example.com/sso/idp/flex" {
		t.Fatalf("setup SPs: %+v", h.Setup.SPs)
	}

	// Unlocked: no longer listed.
	if _, err := f.svc.Unlock(ctx, admin, ann.Email, ""); err != nil {
		t.Fatal(err)
	}
	if locked, err := f.svc.LockedNow(ctx); err != nil || len(locked) != 0 {
		t.Fatalf("after unlock: %+v, %v", locked, err)
	}
	// Expired certificate.
	h, _ = f.svc.Health(ctx, fixtureBase, testKeySet(t, f.now.Add(-time.Hour), time.Time{}))
	if got := checkStates(h)["certificate"]; !strings.HasPrefix(got, "fail: The signing certificate expired") {
		t.Fatalf("expired certificate: %q", got)
	}
}

// TestBulk: each action changes the selected users only, records each
// change, counts the unchanged, and checks the action before touching
// anybody; the last owner cannot be disabled and is reported.
func TestBulk(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, b, c := f.addUser(t, "a@example.com"), f.addUser(t, "b@example.com"), f.addUser(t, "c@example.com")
	sel := []string{a.ID, b.Email}

	res, err := f.svc.Bulk(ctx, admin, accounts.BulkAction{Kind: accounts.BulkAddRole, Role: "supervisor"}, sel)
	if err != nil || res.Changed != 2 || res.Unchanged != 0 {
		t.Fatalf("add role: %+v, %v", res, err)
	}
	res, err = f.svc.Bulk(ctx, admin, accounts.BulkAction{Kind: accounts.BulkAddRole, Role: "supervisor"}, sel)
	if err != nil || res.Changed != 0 || res.Unchanged != 2 {
		t.Fatalf("add the same role again: %+v, %v", res, err)
	}
	if _, err := f.svc.Bulk(ctx, admin, accounts.BulkAction{Kind: accounts.BulkSetTeam, Team: "Blue"}, []string{a.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Bulk(ctx, admin, accounts.BulkAction{Kind: accounts.BulkRemoveRole, Role: "agent"}, sel); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		u     users.User
		roles string
		team  string
	}{{a, "supervisor", "Blue"}, {b, "supervisor", ""}, {c, "agent", ""}} {
		got, _ := f.st.GetUser(ctx, tc.u.ID)
		if strings.Join(got.Roles, ",") != tc.roles || got.Team != tc.team {
			t.Errorf("%s: roles %v team %q, want %s %q", got.Email, got.Roles, got.Team, tc.roles, tc.team)
		}
	}
	events, _ := f.st.ListAudit(ctx, store.AuditFilter{Action: "admin.user.bulk-add-role"})
	if len(events) != 2 {
		t.Fatalf("add-role recorded %d events, want 2 (none for the unchanged)", len(events))
	}

	before, _ := f.st.ListAudit(ctx, store.AuditFilter{})
	for _, tc := range []struct {
		name  string
		a     accounts.BulkAction
		sel   []string
		field string
	}{
		{"a typo of a role", accounts.BulkAction{Kind: accounts.BulkAddRole, Role: "supervisr"}, sel, "role"},
		{"no role", accounts.BulkAction{Kind: accounts.BulkRemoveRole}, sel, "role"},
		{"an unknown action", accounts.BulkAction{Kind: "explode"}, sel, "action"},
		{"an empty selection", accounts.BulkAction{Kind: accounts.BulkDisable}, nil, "selection"},
		{"too many", accounts.BulkAction{Kind: accounts.BulkDisable}, make([]string, accounts.MaxBulk+1), "selection"},
	} {
		_, err := f.svc.Bulk(ctx, admin, tc.a, tc.sel)
		wantCode(t, tc.name, err, accounts.Invalid, tc.field)
	}
	_, err = f.svc.Bulk(ctx, admin, accounts.BulkAction{Kind: accounts.BulkAddRole, Role: "supervisr"}, sel)
	if !strings.Contains(err.Error(), `did you mean "supervisor"?`) {
		t.Fatalf("a typo gets no suggestion: %v", err)
	}
	if after, _ := f.st.ListAudit(ctx, store.AuditFilter{}); len(after) != len(before) {
		t.Fatal("a refused bulk action recorded something")
	}

	// Disable, with the last owner among the selection.
	if _, err := f.svc.Grant(ctx, admin, c.ID, users.ConsoleOwner); err != nil {
		t.Fatal(err)
	}
	f.session(t, a, "sess-a")
	res, err = f.svc.Bulk(ctx, admin, accounts.BulkAction{Kind: accounts.BulkDisable}, []string{a.ID, c.ID, "nobody@example.com"})
	if err != nil || res.Changed != 1 || len(res.Refused) != 2 || !strings.Contains(res.Refused[0], "last console owner") {
		t.Fatalf("disable: %+v, %v", res, err)
	}
	if got, _ := f.st.GetUser(ctx, a.ID); !got.Disabled {
		t.Fatal("a is not disabled")
	}
	if got, _ := f.st.GetUser(ctx, c.ID); got.Disabled {
		t.Fatal("the last owner was disabled")
	}
	if ss, _ := f.st.ListSessions(ctx, a.ID); len(ss) != 0 {
		t.Fatal("disabling left a session")
	}
}

// TestExportUsers writes the selection in the importer's CSV, without
// hashes, records the export, and refuses an unknown user.
func TestExportUsers(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, b := f.addUser(t, "a@example.com"), f.addUser(t, "b@example.com")
	if _, err := f.svc.SetAttributes(ctx, admin, b.ID, []accounts.AttributeInput{{Name: "channel.chat.capacity", Value: "3"}}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := f.svc.ExportUsers(ctx, admin, &buf, []string{b.ID, a.Email})
	if err != nil || n != 2 {
		t.Fatalf("export: %d, %v", n, err)
	}
	rows, err := csv.NewReader(strings.NewReader(buf.String())).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("CSV: %v, %v\n%s", rows, err, buf.String())
	}
	if rows[1][0] != "b@example.com" || rows[2][0] != "a@example.com" || !strings.Contains(buf.String(), "channel.chat.capacity") ||
		strings.Contains(buf.String(), "argon2id") {
		t.Fatalf("CSV content:\n%s", buf.String())
	}
	if ev, _ := f.st.ListAudit(ctx, store.AuditFilter{Action: "admin.users.export"}); len(ev) != 1 || ev[0].Actor != admin.Name {
		t.Fatalf("export events: %+v", ev)
	}
	buf.Reset()
	_, err = f.svc.ExportUsers(ctx, admin, &buf, []string{a.ID, "nobody@example.com"})
	wantCode(t, "export of an unknown user", err, accounts.NotFound, "")
	if buf.Len() != 0 {
		t.Fatal("a refused export wrote something")
	}
}

// TestSetAttributes: values are parsed with the catalog's types; a bad
// row changes nothing and names the attribute; empty rows are skipped;
// the set replaces the old one.
func TestSetAttributes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.addUser(t, "a@example.com")
	got, err := f.svc.SetAttributes(ctx, admin, u.ID, []accounts.AttributeInput{
		{Name: "channel.chat.capacity", Value: " 03 "}, {Name: "skills.intarray", Value: "1, 2"}, {Name: "department", Value: "Sales"}, {}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"channel.chat.capacity": "3", "skills.intarray": "1,2", "department": "Sales"}
	if len(got.Attributes) != len(want) {
		t.Fatalf("attributes %v", got.Attributes)
	}
	for k, v := range want {
		if got.Attributes[k].String() != v {
			t.Errorf("%s = %q, want %q", k, got.Attributes[k].String(), v)
		}
	}
	if got.Attributes["channel.chat.capacity"].Type != attributes.Int {
		t.Error("capacity is not an int")
	}
	for _, tc := range []struct {
		name  string
		rows  []accounts.AttributeInput
		field string
	}{
		{"a negative capacity", []accounts.AttributeInput{{Name: "channel.chat.capacity", Value: "-1"}}, "channel.chat.capacity"},
		{"not an int", []accounts.AttributeInput{{Name: "channel.voice.capacity", Value: "three"}}, "channel.voice.capacity"},
		{"a bad boolean", []accounts.AttributeInput{{Name: "channel.voice.availability", Value: "maybe"}}, "channel.voice.availability"},
		{"a bad custom int array", []accounts.AttributeInput{{Name: "skills.intarray", Value: "1,x"}}, "skills.intarray"},
		{"an unknown type suffix", []accounts.AttributeInput{{Name: "skills.float", Value: "1"}}, "skills.float"},
		{"a reserved name", []accounts.AttributeInput{{Name: "roles", Value: "agent"}}, "roles"},
		{"twice", []accounts.AttributeInput{{Name: "department", Value: "a"}, {Name: "department", Value: "b"}}, "department"},
		{"a value without a name", []accounts.AttributeInput{{Value: "x"}}, "attributes"},
	} {
		_, err := f.svc.SetAttributes(ctx, admin, u.ID, tc.rows)
		wantCode(t, tc.name, err, accounts.Invalid, tc.field)
	}
	stored, _ := f.st.GetUser(ctx, u.ID)
	if len(stored.Attributes) != 3 {
		t.Fatalf("a refused save changed the attributes: %v", stored.Attributes)
	}
	if got, err = f.svc.SetAttributes(ctx, admin, u.ID, nil); err != nil || got.Attributes != nil {
		t.Fatalf("clearing: %v, %v", got.Attributes, err)
	}
}

// TestProfileAndNewUser: the profile form's roles are parsed with the
// "did you mean" suggestion; a new user is created with a password, or
// by an invitation link; an existing email is a conflict.
func TestProfileAndNewUser(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.addUser(t, "a@example.com")
	p := accounts.ProfileOf(u)
	p.Roles, p.Team = "supervisor, agent", " Blue "
	got, err := f.svc.UpdateProfile(ctx, admin, u.ID, p)
	if err != nil || strings.Join(got.Roles, ",") != "supervisor,agent" || got.Team != "Blue" {
		t.Fatalf("update: %+v, %v", got, err)
	}
	p.Roles = "agnet"
	_, err = f.svc.UpdateProfile(ctx, admin, u.ID, p)
	wantCode(t, "a typo of a role", err, accounts.Invalid, "roles")
	if !strings.Contains(err.Error(), `did you mean "agent"?`) {
		t.Fatalf("no suggestion: %v", err)
	}
	p.Roles, p.ImageURL = "agent", "javascript:alert(1)"
	_, err = f.svc.UpdateProfile(ctx, admin, u.ID, p)
	wantCode(t, "a script URL as image", err, accounts.Invalid, "image_url")

	withPw, link, err := f.svc.NewUserFromProfile(ctx, admin, accounts.Profile{Email: "b@example.com", Roles: "agent"}, goodPassword, fixtureBase, false)
	if err != nil || link != nil || withPw.PasswordHash == "" {
		t.Fatalf("new user with a password: %+v, %v, %v", withPw, link, err)
	}
	invited, link, err := f.svc.NewUserFromProfile(ctx, admin, accounts.Profile{Email: "c@example.com", Roles: "agent", Team: "Red"}, "", fixtureBase, true)
	if err != nil || link == nil || !strings.HasPrefix(link.URL, "https://idp.example.com/") || !link.Emailed || invited.Team != "Red" || invited.PasswordHash != "" {
		t.Fatalf("invited: %+v, %+v, %v", invited, link, err)
	}
	_, _, err = f.svc.NewUserFromProfile(ctx, admin, accounts.Profile{Email: "B@example.com"}, "", fixtureBase, false)
	wantCode(t, "an invitation of an existing email", err, accounts.Conflict, "email")
	_, _, err = f.svc.NewUserFromProfile(ctx, admin, accounts.Profile{Email: "d@example.com", Roles: "boss"}, "", fixtureBase, false)
	wantCode(t, "a new user with a bad role", err, accounts.Invalid, "roles")
	if _, err := f.svc.FindUser(ctx, "d@example.com"); accounts.ErrorCode(err) != accounts.NotFound {
		t.Fatal("a refused new user was created")
	}
}

// TestRevokeUserSession ends one session of the user only.
func TestRevokeUserSession(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, b := f.addUser(t, "a@example.com"), f.addUser(t, "b@example.com")
	f.session(t, a, "sa")
	f.session(t, b, "sb")
	err := f.svc.RevokeUserSession(ctx, admin, a.ID, "sb")
	wantCode(t, "another user's session", err, accounts.NotFound, "")
	if _, err := f.st.GetSession(ctx, "sb"); err != nil {
		t.Fatal("another user's session was ended")
	}
	if err := f.svc.RevokeUserSession(ctx, admin, a.ID, "sa"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.GetSession(ctx, "sa"); err == nil {
		t.Fatal("the session is still there")
	}
	h, err := f.svc.History(ctx, a, 10)
	if err != nil || len(h) == 0 || h[0].Action != "admin.sessions.revoke" {
		t.Fatalf("history: %+v, %v", h, err)
	}
}
