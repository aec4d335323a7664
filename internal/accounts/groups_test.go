package accounts_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/store/sqlite/sqlitetest"
	"github.com/flexidp/flexidp/internal/users"
)

func (f *fixture) addGroup(t *testing.T, g users.Group) users.Group {
	t.Helper()
	g, err := f.svc.CreateGroup(context.Background(), admin, g)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func attrSet(t *testing.T, pairs ...string) attributes.Set {
	t.Helper()
	s, err := attributes.SetOf(pairs...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// salesES is the issue's example: "everyone in Spanish Sales has role
// agent, team Sales-ES, skills spanish,sales and chat capacity 3".
func salesES(t *testing.T) users.Group {
	return users.Group{Name: "Sales-ES", Description: "Spanish sales", Roles: []string{"agent"}, Team: "Sales-ES",
		Attributes: attrSet(t, "skills.stringarray", "spanish,sales", "channel.chat.capacity", "3")}
}

// TestGroupsCRUD: create, look up by name in any case, by ID and by
// external ID, rename, list, delete; refusals are sentences with codes.
func TestGroupsCRUD(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	g := salesES(t)
	g.ExternalID = "okta-123"
	g = f.addGroup(t, g)
	for _, ref := range []string{"sales-es", g.ID, "okta-123"} {
		if got, err := f.svc.GetGroup(ctx, ref); err != nil || got.ID != g.ID {
			t.Fatalf("GetGroup(%q) = %+v, %v", ref, got, err)
		}
	}
	for _, tc := range []struct {
		name string
		g    users.Group
		code accounts.Code
		says string
	}{
		{"taken name", users.Group{Name: "SALES-es"}, accounts.Conflict, `A group named "SALES-es" already exists`},
		{"bad role", users.Group{Name: "x", Roles: []string{"agnet"}}, accounts.Invalid, `did you mean "agent"`},
		{"no name", users.Group{Name: "  "}, accounts.Invalid, "name: is required"},
		{"reserved attribute", users.Group{Name: "y", Attributes: attributes.Set{"team.string": attributes.Value{}}}, accounts.Invalid, "reserved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.CreateGroup(ctx, admin, tc.g)
			if code(err) != tc.code || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err = %v (code %q), want %q saying %q", err, code(err), tc.code, tc.says)
			}
		})
	}
	renamed, err := f.svc.UpdateGroup(ctx, admin, "Sales-ES", func(g *users.Group) error { g.Name = " Ventas-ES "; return nil })
	if err != nil || renamed.Name != "Ventas-ES" {
		t.Fatalf("rename: %+v, %v", renamed, err)
	}
	if _, err := f.svc.GetGroup(ctx, "Sales-ES"); code(err) != accounts.NotFound || !strings.Contains(err.Error(), "no group named") {
		t.Fatalf("old name: %v", err)
	}
	if gs, err := f.svc.ListGroups(ctx); err != nil || len(gs) != 1 {
		t.Fatalf("ListGroups = %v, %v", gs, err)
	}
	if _, err := f.svc.DeleteGroup(ctx, admin, "ventas-es"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.DeleteGroup(ctx, admin, "ventas-es"); code(err) != accounts.NotFound {
		t.Fatalf("delete twice: %v", err)
	}
	for _, action := range []string{"admin.group.add", "admin.group.set", "admin.group.delete"} {
		evs := f.audit(t, action)
		if len(evs) != 1 || evs[0].Actor != admin.Name {
			t.Errorf("%s: %d events %+v, want one by %s", action, len(evs), evs, admin.Name)
		}
	}
}

// TestGroupMembershipProfile: a member receives the union of roles and
// the group's team, skills and capacity; the user's own values override;
// the preview says where each value came from; membership changes are
// idempotent and audited with the actor and the profile before and after.
func TestGroupMembershipProfile(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.svc.CreateSP(ctx, admin, flexProvider("flex", "JQ1")); err != nil {
		t.Fatal(err)
	}
	ana, err := f.svc.CreateUser(ctx, admin, accounts.NewUser{NoPassword: true, User: users.User{Email: "ana@example.com",
		Roles: []string{"supervisor"}, Attributes: attrSet(t, "channel.chat.capacity", "1")}})
	if err != nil {
		t.Fatal(err)
	}
	f.addGroup(t, salesES(t))
	f.addGroup(t, users.Group{Name: "Insights", Roles: []string{"wfo.team_leader"}, Attributes: attrSet(t, "skills.stringarray", "sales,english")})

	for i := 0; i < 2; i++ { // the second time changes nothing
		if err := f.svc.AddMembers(ctx, admin, "sales-es", "ANA@example.com"); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.svc.AddMembers(ctx, admin, "Insights", ana.ID); err != nil {
		t.Fatal(err)
	}
	if evs := f.audit(t, "admin.group.member-add"); len(evs) != 2 || evs[0].UserID != ana.ID || evs[0].Actor != admin.Name {
		t.Fatalf("member-add events: %+v", evs)
	}

	pv, err := f.svc.PreviewRelease(ctx, "ana@example.com", "flex")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct{ name, value, source string }{
		{"roles", "supervisor,wfo.team_leader,agent", "user, group Insights, group Sales-ES"},
		{"team", "Sales-ES", "group Sales-ES"},
		{"skills.stringarray", "sales,english,spanish", "group Insights, group Sales-ES"},
		{"channel.chat.capacity", "1", "user"}, // the user's own value overrides the group's 3
		{"email", "ana@example.com", "user"},
	} {
		if got := released(pv, want.name); got != want.value {
			t.Errorf("%s released = %q, want %q", want.name, got, want.value)
		}
		if got := pv.Source(want.name); got != want.source {
			t.Errorf("%s source = %q, want %q", want.name, got, want.source)
		}
	}
	// The account page's "what Flex receives about me" is the same.
	rels, err := f.svc.Releases(ctx, ana)
	if err != nil || len(rels) != 1 || rels[0].Refusal != "" || released(rels[0].Preview, "team") != "Sales-ES" {
		t.Fatalf("Releases = %+v, %v", rels, err)
	}

	// Removing the own capacity uncovers the group's.
	if _, err := f.svc.UpdateUser(ctx, admin, ana.ID, "user.update", func(u *users.User) error { u.Attributes = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	if pv, err = f.svc.PreviewRelease(ctx, ana.ID, "flex"); err != nil || released(pv, "channel.chat.capacity") != "3" ||
		pv.Source("channel.chat.capacity") != "group Sales-ES" {
		t.Fatalf("capacity after the user's own went: %q from %q, %v", released(pv, "channel.chat.capacity"), pv.Source("channel.chat.capacity"), err)
	}

	if err := f.svc.RemoveMembers(ctx, admin, "Insights", ana.Email, ana.Email); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RemoveMembers(ctx, admin, "Insights", ana.Email); err != nil {
		t.Fatalf("remove twice: %v", err)
	}
	if evs := f.audit(t, "admin.group.member-remove"); len(evs) != 1 {
		t.Fatalf("member-remove events: %d, want 1", len(evs))
	}
	gs, err := f.svc.GroupsOf(ctx, ana)
	if err != nil || len(gs) != 1 || gs[0].Name != "Sales-ES" {
		t.Fatalf("GroupsOf = %+v, %v", gs, err)
	}
}

// TestGroupConflictRefused: a write that would give a member two
// different single values (and no value of their own) is refused with a
// sentence naming the user, the attribute and the groups, and changes
// nothing.
func TestGroupConflictRefused(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	ana := f.addUser(t, "ana@example.com")
	f.addGroup(t, salesES(t))
	f.addGroup(t, users.Group{Name: "Support", Team: "Support"})
	f.addGroup(t, users.Group{Name: "Chat", Attributes: attrSet(t, "skills.stringarray", "chat")})
	if err := f.svc.AddMembers(ctx, admin, "Sales-ES", ana.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.AddMembers(ctx, admin, "Chat", ana.ID); err != nil {
		t.Fatal(err)
	}
	wantSentence := `ana@example.com would receive conflicting values of team ("Sales-ES" from group Sales-ES, "Support" from group Support)`

	err := f.svc.AddMembers(ctx, admin, "Support", ana.Email)
	if code(err) != accounts.Conflict || !strings.Contains(err.Error(), wantSentence) {
		t.Fatalf("add member: %v (code %q), want a Conflict saying %s", err, code(err), wantSentence)
	}
	if gs, _ := f.svc.GroupsOf(ctx, ana); len(gs) != 2 {
		t.Fatalf("a refused add changed the groups: %+v", gs)
	}

	// Changing a group's attributes into a conflict is refused too.
	_, err = f.svc.UpdateGroup(ctx, admin, "Chat", func(g *users.Group) error {
		g.Attributes = attrSet(t, "channel.chat.capacity", "5")
		return nil
	})
	wantCap := `channel.chat.capacity ("5" from group Chat, "3" from group Sales-ES)`
	if code(err) != accounts.Conflict || !strings.Contains(err.Error(), "ana@example.com") || !strings.Contains(err.Error(), wantCap) {
		t.Fatalf("update group: %v, want a Conflict naming ana and %s", err, wantCap)
	}
	if g, _ := f.svc.GetGroup(ctx, "Chat"); g.Attributes["channel.chat.capacity"] != (attributes.Value{}) {
		t.Fatalf("a refused update was stored: %+v", g)
	}

	// With a value of her own, the conflict is gone, and so is the refusal.
	if _, err := f.svc.UpdateUser(ctx, admin, ana.ID, "user.update", func(u *users.User) error { u.Team = "Mine"; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.AddMembers(ctx, admin, "Support", ana.Email); err != nil {
		t.Fatalf("add with an own team: %v", err)
	}
	// Dropping her own value now would uncover it: refused.
	_, err = f.svc.UpdateUser(ctx, admin, ana.ID, "user.update", func(u *users.User) error { u.Team = ""; return nil })
	if code(err) != accounts.Conflict || !strings.Contains(err.Error(), wantSentence) {
		t.Fatalf("drop own team: %v", err)
	}
}

// TestPreviewReportsConflict: a conflict that exists in the store (two
// administrators at once) is reported by the preview and refuses the
// release; it is never silently picked.
func TestPreviewReportsConflict(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.svc.CreateSP(ctx, admin, flexProvider("flex", "JQ1")); err != nil {
		t.Fatal(err)
	}
	ana := f.addUser(t, "ana@example.com")
	a := f.addGroup(t, salesES(t))
	b := f.addGroup(t, users.Group{Name: "Support", Team: "Support"})
	// Straight into the store, past the service's check.
	if err := f.st.AddGroupMembers(ctx, a.ID, ana.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.st.AddGroupMembers(ctx, b.ID, ana.ID); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.PreviewRelease(ctx, ana.Email, "flex")
	if code(err) != accounts.Invalid || !strings.Contains(err.Error(), `conflicting values of team ("Sales-ES" from group Sales-ES, "Support" from group Support)`) {
		t.Fatalf("preview: %v", err)
	}
	if _, err := f.svc.ReleaseFor(ctx, ana, flexProvider("flex", "JQ1")); err == nil {
		t.Fatal("ReleaseFor released a conflicting profile")
	}
	rels, err := f.svc.Releases(ctx, ana)
	if err != nil || len(rels) != 1 || !strings.Contains(rels[0].Refusal, "conflicting values of team") {
		t.Fatalf("Releases = %+v, %v", rels, err)
	}
}

// TestDeleteGroupChangesProfile: deleting a group takes its roles and
// attributes from its members, and each member's change is audited with
// the profile before and after.
func TestDeleteGroupChangesProfile(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.svc.CreateSP(ctx, admin, flexProvider("flex", "JQ1")); err != nil {
		t.Fatal(err)
	}
	ana := f.addUser(t, "ana@example.com") // role agent of her own
	f.addGroup(t, users.Group{Name: "Leads", Roles: []string{"supervisor"}, Team: "Leads"})
	if err := f.svc.AddMembers(ctx, admin, "Leads", ana.ID); err != nil {
		t.Fatal(err)
	}
	pv, err := f.svc.PreviewRelease(ctx, ana.ID, "flex")
	if err != nil || released(pv, "roles") != "agent,supervisor" || released(pv, "team") != "Leads" {
		t.Fatalf("before: roles %q team %q, %v", released(pv, "roles"), released(pv, "team"), err)
	}
	if _, err := f.svc.DeleteGroup(ctx, admin, "Leads"); err != nil {
		t.Fatal(err)
	}
	pv, err = f.svc.PreviewRelease(ctx, ana.ID, "flex")
	if err != nil || released(pv, "roles") != "agent" || released(pv, "team") != "" {
		t.Fatalf("after: roles %q team %q, %v", released(pv, "roles"), released(pv, "team"), err)
	}
	evs := f.audit(t, "admin.group.member-remove")
	if len(evs) != 1 || evs[0].UserID != ana.ID || evs[0].Actor != admin.Name || !strings.Contains(evs[0].Reason, "Leads deleted") {
		t.Fatalf("member events: %+v", evs)
	}
	var d struct{ Before, After map[string]any }
	if err := json.Unmarshal(evs[0].Details, &d); err != nil {
		t.Fatal(err)
	}
	if d.Before["team"] != "Leads" || d.After["team"] != "" {
		t.Fatalf("audited profile: before %v after %v", d.Before, d.After)
	}
}

// TestGroupRoleRequiresSecondFactor: a role a group gives counts for
// MFARequiredRoles like the user's own: a member of a group carrying
// admin must enrol a second factor.
func TestGroupRoleRequiresSecondFactor(t *testing.T) {
	ctx := context.Background()
	st := sqlitetest.New(t)
	svc := accounts.New(accounts.Config{Store: st, MFARequiredRoles: []string{"admin"},
		Hasher: users.NewHasher(users.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 1)})
	u, err := svc.CreateUser(ctx, admin, accounts.NewUser{User: users.User{Email: "a@example.com", Roles: []string{"agent"}}, NoPassword: true})
	if err != nil {
		t.Fatal(err)
	}
	if step, err := svc.SecondStepFor(ctx, u); err != nil || step != accounts.NoSecondStep {
		t.Fatalf("an agent: step %v, %v", step, err)
	}
	if _, err := svc.CreateGroup(ctx, admin, users.Group{Name: "Admins", Roles: []string{"admin"}}); err != nil {
		t.Fatal(err)
	}
	if err := svc.AddMembers(ctx, admin, "Admins", u.ID); err != nil {
		t.Fatal(err)
	}
	if step, err := svc.SecondStepFor(ctx, u); err != nil || step != accounts.Enrol {
		t.Fatalf("an agent in the Admins group: step %v, %v; want Enrol", step, err)
	}
}

// TestUpdateChangingNothingWritesNothing: an update whose change leaves
// the user or group as the audit trail records it (the same values given
// again, as a SCIM PUT, a console form saved untouched or a CLI command
// repeated) writes nothing and leaves no audit event, whichever adapter
// asks; a real change is written and audited.
func TestUpdateChangingNothingWritesNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.addUser(t, "ada@example.com")
	g := f.addGroup(t, users.Group{Name: "Tier 1", Roles: []string{"agent"}, Team: "north"})
	was, err := f.st.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Hour)

	same, err := f.svc.UpdateUser(ctx, admin, u.ID, "user.update", func(v *users.User) error {
		v.FullName, v.Roles, v.Email = "Test User", []string{"agent"}, "ada@example.com"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := f.st.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.audit(t, "admin.user.update")); n != 0 || !stored.UpdatedAt.Equal(was.UpdatedAt) || same.ID != u.ID || same.FullName != "Test User" {
		t.Fatalf("an update changing nothing: %d audit events, updated_at %v (was %v), returned %q %q", n, stored.UpdatedAt, was.UpdatedAt, same.ID, same.FullName)
	}
	if _, err := f.svc.UpdateGroup(ctx, admin, g.ID, func(v *users.Group) error {
		v.Name, v.Team = "Tier 1", "north"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.audit(t, "admin.group.set")); n != 0 {
		t.Fatalf("a group update changing nothing left %d audit events", n)
	}

	if _, err := f.svc.UpdateUser(ctx, admin, u.ID, "user.update", func(v *users.User) error {
		v.FullName = "Ada Lovelace"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.audit(t, "admin.user.update")); n != 1 {
		t.Fatalf("a real change left %d audit events, want 1", n)
	}
	if _, err := f.svc.UpdateGroup(ctx, admin, g.ID, func(v *users.Group) error {
		v.Team = "south"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.audit(t, "admin.group.set")); n != 1 {
		t.Fatalf("a real group change left %d audit events, want 1", n)
	}
}
