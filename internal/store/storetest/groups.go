package storetest

import (
	"testing"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// newGroup is a group with every field set, stamped t0.
func newGroup(t *testing.T, id, name string) users.Group {
	t.Helper()
	return users.Group{
		ID:          id,
		Name:        name,
		Description: "Spanish <Sales> " + name, // not the zero value, so a lost column shows
		ExternalID:  "ext-" + id,
		Roles:       []string{"agent", "wfo.team_leader"},
		Team:        "Sales-ES",
		Program:     "Sales",
		Attributes:  attrs(t, "skills.stringarray", "spanish,sales", "channel.chat.capacity", "3"),
		CreatedAt:   t0,
		UpdatedAt:   t0,
	}
}

func groupAsStored(g users.Group) users.Group {
	g.CreatedAt, g.UpdatedAt = stored(g.CreatedAt), stored(g.UpdatedAt)
	return g
}

func createGroup(t *testing.T, s store.Store, g users.Group) users.Group {
	t.Helper()
	noErr(t, s.CreateGroup(t.Context(), g), "CreateGroup "+g.Name)
	return g
}

func groupNames(gs []users.Group) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Name)
	}
	return out
}

func userIDs(us []users.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.ID)
	}
	return out
}

// testGroupCRUD: create, get (by ID, name in any case, external ID), list,
// rename, delete.
func testGroupCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := createGroup(t, s, newGroup(t, "g1", "Sales-ES"))
	bare := createGroup(t, s, users.Group{ID: "g2", Name: "agents", CreatedAt: t0, UpdatedAt: t0})

	got, err := s.GetGroup(ctx, "g1")
	noErr(t, err, "GetGroup")
	same(t, "GetGroup", got, groupAsStored(g))
	got, err = s.GetGroupByName(ctx, "sALES-es")
	noErr(t, err, "GetGroupByName in another case")
	same(t, "GetGroupByName", got.ID, "g1")
	got, err = s.GetGroupByExternalID(ctx, "ext-g1")
	noErr(t, err, "GetGroupByExternalID")
	same(t, "GetGroupByExternalID", got.ID, "g1")
	_, err = s.GetGroupByExternalID(ctx, "")
	wantErr(t, err, store.ErrNotFound, "GetGroupByExternalID of the empty external ID")

	list, err := s.ListGroups(ctx)
	noErr(t, err, "ListGroups")
	same(t, "ListGroups (case-folded name order)", list, []users.Group{groupAsStored(bare), groupAsStored(g)})

	renamed, err := s.UpdateGroup(ctx, "g1", func(cur users.Group) (users.Group, error) {
		cur.Name = "Ventas-ES"
		cur.Roles = nil
		cur.Attributes = nil
		return cur, nil
	})
	noErr(t, err, "UpdateGroup")
	if !renamed.UpdatedAt.After(stored(t0)) || !renamed.CreatedAt.Equal(stored(t0)) {
		t.Fatalf("UpdateGroup stamps: created %v updated %v", renamed.CreatedAt, renamed.UpdatedAt)
	}
	got, err = s.GetGroupByName(ctx, "ventas-es")
	noErr(t, err, "GetGroupByName after the rename")
	same(t, "renamed group", got, renamed)
	same(t, "roles and attributes cleared", [2]int{len(got.Roles), len(got.Attributes)}, [2]int{0, 0})
	_, err = s.GetGroupByName(ctx, "Sales-ES")
	wantErr(t, err, store.ErrNotFound, "GetGroupByName of the old name")

	noErr(t, s.DeleteGroup(ctx, "g1"), "DeleteGroup")
	_, err = s.GetGroup(ctx, "g1")
	wantErr(t, err, store.ErrNotFound, "GetGroup after DeleteGroup")
	wantErr(t, s.DeleteGroup(ctx, "g1"), store.ErrNotFound, "DeleteGroup twice")
	_, err = s.UpdateGroup(ctx, "g1", func(cur users.Group) (users.Group, error) { return cur, nil })
	wantErr(t, err, store.ErrNotFound, "UpdateGroup of a deleted group")
}

// testGroupConflicts: names are unique case-insensitively (Unicode case
// too), external IDs when set; an empty external ID is not a value.
func testGroupConflicts(t *testing.T, s store.Store) {
	ctx := t.Context()
	createGroup(t, s, newGroup(t, "g1", "Équipe"))
	for _, c := range []struct {
		name string
		g    users.Group
	}{
		{"same ID", users.Group{ID: "g1", Name: "other"}},
		{"same name in another case", users.Group{ID: "g2", Name: "éQUIPE"}},
		{"same external ID", users.Group{ID: "g3", Name: "third", ExternalID: "ext-g1"}},
	} {
		wantErr(t, s.CreateGroup(ctx, c.g), store.ErrConflict, "CreateGroup with the "+c.name)
	}
	createGroup(t, s, users.Group{ID: "g4", Name: "four"})
	createGroup(t, s, users.Group{ID: "g5", Name: "five"}) // two empty external IDs
	_, err := s.UpdateGroup(ctx, "g4", func(cur users.Group) (users.Group, error) {
		cur.Name = "ÉQUIPE"
		return cur, nil
	})
	wantErr(t, err, store.ErrConflict, "renaming onto another group's name")
}

// testGroupMembers: membership add and remove are idempotent, missing
// users or groups are ErrNotFound with nothing added, and a user's groups
// come back ordered by name.
func testGroupMembers(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUser(t, s, newUser(t, "u1", "one@example.com"))
	createUser(t, s, newUser(t, "u2", "Two@example.com"))
	createUser(t, s, newUser(t, "u3", "three@example.com"))
	a := createGroup(t, s, newGroup(t, "ga", "Alpha"))
	b := createGroup(t, s, newGroup(t, "gb", "beta"))

	noErr(t, s.AddGroupMembers(ctx, "gb", "u1", "u2"), "AddGroupMembers")
	noErr(t, s.AddGroupMembers(ctx, "gb", "u2", "u1"), "AddGroupMembers again (idempotent)")
	noErr(t, s.AddGroupMembers(ctx, "ga", "u1"), "AddGroupMembers")
	wantErr(t, s.AddGroupMembers(ctx, "ga", "u3", "nobody"), store.ErrNotFound, "AddGroupMembers with a missing user")
	wantErr(t, s.AddGroupMembers(ctx, "nogroup", "u1"), store.ErrNotFound, "AddGroupMembers to a missing group")

	members, err := s.GroupMembers(ctx, "gb")
	noErr(t, err, "GroupMembers")
	same(t, "GroupMembers (by email)", userIDs(members), []string{"u1", "u2"})
	members, err = s.GroupMembers(ctx, "ga")
	noErr(t, err, "GroupMembers")
	same(t, "GroupMembers after a refused add (all or nothing)", userIDs(members), []string{"u1"})

	gs, err := s.UserGroups(ctx, "u1")
	noErr(t, err, "UserGroups")
	same(t, "UserGroups", gs, []users.Group{groupAsStored(a), groupAsStored(b)})
	gs, err = s.UserGroups(ctx, "u3")
	noErr(t, err, "UserGroups of a user without groups")
	same(t, "UserGroups of a user without groups", gs, nil)

	byUser, err := s.MembersGroups(ctx, "gb")
	noErr(t, err, "MembersGroups")
	same(t, "MembersGroups u1", groupNames(byUser["u1"]), []string{"Alpha", "beta"})
	same(t, "MembersGroups u2", groupNames(byUser["u2"]), []string{"beta"})
	same(t, "MembersGroups members", len(byUser), 2)

	noErr(t, s.RemoveGroupMembers(ctx, "gb", "u1", "u3"), "RemoveGroupMembers (u3 not a member)")
	noErr(t, s.RemoveGroupMembers(ctx, "gb", "u1"), "RemoveGroupMembers again (idempotent)")
	members, err = s.GroupMembers(ctx, "gb")
	noErr(t, err, "GroupMembers")
	same(t, "GroupMembers after remove", userIDs(members), []string{"u2"})
	gs, err = s.UserGroups(ctx, "u1")
	noErr(t, err, "UserGroups")
	same(t, "UserGroups after remove", groupNames(gs), []string{"Alpha"})
}

// testGroupMembersCascade: deleting a user or a group never leaves a
// membership behind, and a recreated one starts without any.
func testGroupMembersCascade(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUser(t, s, newUser(t, "u1", "one@example.com"))
	createUser(t, s, newUser(t, "u2", "two@example.com"))
	createGroup(t, s, newGroup(t, "ga", "Alpha"))
	createGroup(t, s, newGroup(t, "gb", "Beta"))
	for _, g := range []string{"ga", "gb"} {
		noErr(t, s.AddGroupMembers(ctx, g, "u1", "u2"), "AddGroupMembers "+g)
	}

	noErr(t, s.DeleteGroup(ctx, "ga"), "DeleteGroup")
	gs, err := s.UserGroups(ctx, "u2")
	noErr(t, err, "UserGroups")
	same(t, "UserGroups after the group was deleted", groupNames(gs), []string{"Beta"})
	createGroup(t, s, newGroup(t, "ga", "Alpha"))
	members, err := s.GroupMembers(ctx, "ga")
	noErr(t, err, "GroupMembers")
	same(t, "members of a recreated group", members, nil)

	noErr(t, s.DeleteUser(ctx, "u1"), "DeleteUser")
	members, err = s.GroupMembers(ctx, "gb")
	noErr(t, err, "GroupMembers")
	same(t, "members after the user was deleted", userIDs(members), []string{"u2"})
	createUser(t, s, newUser(t, "u1", "one@example.com"))
	gs, err = s.UserGroups(ctx, "u1")
	noErr(t, err, "UserGroups")
	same(t, "groups of a recreated user", gs, nil)
}
