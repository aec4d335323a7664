package accounts

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// Group audit actions (recorded as "admin." + action).
const (
	actionGroupAdd          = "group.add"
	actionGroupSet          = "group.set"
	actionGroupDelete       = "group.delete"
	actionGroupMemberAdd    = "group.member-add"
	actionGroupMemberRemove = "group.member-remove"
)

// GetGroup looks a group up by name (any case), ID or external ID.
func (s *Service) GetGroup(ctx context.Context, ref string) (users.Group, error) {
	g, err := s.st.GetGroupByName(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		g, err = s.st.GetGroup(ctx, ref)
	}
	if errors.Is(err, store.ErrNotFound) && ref != "" {
		g, err = s.st.GetGroupByExternalID(ctx, ref)
	}
	return g, notFoundAs(err, fmt.Sprintf("There is no group named %q (see idp groups list).", ref))
}

// ListGroups returns every group, ordered by name.
func (s *Service) ListGroups(ctx context.Context) ([]users.Group, error) {
	return s.st.ListGroups(ctx)
}

// GroupMembers returns the members of the group, ordered by email.
func (s *Service) GroupMembers(ctx context.Context, ref string) ([]users.User, error) {
	g, err := s.GetGroup(ctx, ref)
	if err != nil {
		return nil, err
	}
	return s.st.GroupMembers(ctx, g.ID)
}

// Memberships returns the names of every user's groups, by user ID, in
// group-name order (for an export): one store query per group.
func (s *Service) Memberships(ctx context.Context) (map[string][]string, error) {
	gs, err := s.st.ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, g := range gs {
		members, err := s.st.GroupMembers(ctx, g.ID)
		if err != nil {
			return nil, err
		}
		for _, m := range members {
			out[m.ID] = append(out[m.ID], g.Name)
		}
	}
	return out, nil
}

// GroupsOf returns the groups u is a member of, ordered by name, in one
// store query.
func (s *Service) GroupsOf(ctx context.Context, u users.User) ([]users.Group, error) {
	return s.st.UserGroups(ctx, u.ID)
}

// Profile returns u's effective Flex profile (users.Effective over u's
// groups, loaded in one query). The error is a *users.ConflictError or a
// validation error when the groups make a profile Flex would refuse; the
// Profile then holds what could be merged.
func (s *Service) Profile(ctx context.Context, u users.User) (users.Profile, error) {
	gs, err := s.GroupsOf(ctx, u)
	if err != nil {
		return users.Profile{User: u}, err
	}
	return users.Effective(u, gs)
}

// CreateGroup adds a group with a new ID after checking it.
func (s *Service) CreateGroup(ctx context.Context, actor Actor, g users.Group) (users.Group, error) {
	g.ID = s.NewUserID()
	g.Name = users.NormalizeGroupName(g.Name)
	g.CreatedAt, g.UpdatedAt = s.now(), s.now()
	if err := g.Validate(); err != nil {
		return users.Group{}, invalid(err)
	}
	if err := s.st.CreateGroup(ctx, g); errors.Is(err, store.ErrConflict) {
		return users.Group{}, groupTaken(g, err)
	} else if err != nil {
		return users.Group{}, err
	}
	return g, s.audit(ctx, actor, Change{Action: actionGroupAdd, After: GroupView(g)})
}

func groupTaken(g users.Group, err error) error {
	msg := fmt.Sprintf("A group named %q already exists (names are compared without regard to case).", g.Name)
	if g.ExternalID != "" {
		msg = fmt.Sprintf("A group named %q or with external ID %q already exists (names are compared without regard to case).", g.Name, g.ExternalID)
	}
	return &Error{Code: Conflict, Message: msg, Err: err}
}

// UpdateGroup applies change to the group atomically and validates the
// result (the ID cannot change). A change that would give one of its
// members conflicting values (users.Effective) is refused, with a
// Conflict error naming the member, the attribute and the groups.
func (s *Service) UpdateGroup(ctx context.Context, actor Actor, ref string, change func(*users.Group) error) (users.Group, error) {
	before, members, theirs, err := s.groupAndMembers(ctx, ref)
	if err != nil {
		return before, err
	}
	attempted := before
	var unchanged users.Group
	after, err := s.st.UpdateGroup(ctx, before.ID, func(cur users.Group) (users.Group, error) {
		was := viewJSON(GroupView(cur))
		if err := change(&cur); err != nil {
			return cur, invalid(err)
		}
		cur.ID = before.ID
		cur.Name = users.NormalizeGroupName(cur.Name)
		attempted = cur
		if err := cur.Validate(); err != nil {
			return cur, invalid(err)
		}
		if viewJSON(GroupView(cur)) == was {
			unchanged = cur
			return cur, errUnchanged
		}
		for _, m := range members {
			if err := checkProfile(m, replaceGroup(theirs[m.ID], cur)); err != nil {
				return cur, err
			}
		}
		return cur, nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		return unchanged, nil
	case errors.Is(err, store.ErrConflict):
		return after, groupTaken(attempted, err)
	case err != nil:
		return after, notFoundAs(err, fmt.Sprintf("There is no group named %q.", ref))
	}
	return after, s.audit(ctx, actor, Change{Action: actionGroupSet, Before: GroupView(before), After: GroupView(after),
		Reason: membersAffected(len(members))})
}

// DeleteGroup removes the group and its memberships. Each member's
// effective profile changes: every member's change is audited with the
// profile before and after, so the trail shows what they lost.
func (s *Service) DeleteGroup(ctx context.Context, actor Actor, ref string) (users.Group, error) {
	g, members, theirs, err := s.groupAndMembers(ctx, ref)
	if err != nil {
		return g, err
	}
	if err := s.st.DeleteGroup(ctx, g.ID); err != nil {
		return g, notFoundAs(err, fmt.Sprintf("There is no group named %q.", ref))
	}
	var errs []error
	errs = append(errs, s.audit(ctx, actor, Change{Action: actionGroupDelete, Before: GroupView(g), Reason: membersAffected(len(members))}))
	for _, m := range members {
		was := theirs[m.ID]
		errs = append(errs, s.audit(ctx, actor, Change{Action: actionGroupMemberRemove, User: &m, Reason: "group " + g.Name + " deleted",
			Before: ProfileView(m, was), After: ProfileView(m, removeGroup(was, g.ID))}))
	}
	return g, errors.Join(errs...)
}

// groupAndMembers returns the group, its members and every group of each
// member (by user ID): what a change of the group must check and audit.
func (s *Service) groupAndMembers(ctx context.Context, ref string) (users.Group, []users.User, map[string][]users.Group, error) {
	g, err := s.GetGroup(ctx, ref)
	if err != nil {
		return g, nil, nil, err
	}
	members, err := s.st.GroupMembers(ctx, g.ID)
	if err != nil {
		return g, nil, nil, err
	}
	theirs, err := s.st.MembersGroups(ctx, g.ID)
	return g, members, theirs, err
}

// AddMembers makes the users (by email or ID) members of the group. A
// user who would receive conflicting values is refused, and nobody is
// added: the Conflict error names the user, the attribute and the
// groups. Users already members are left as they are. Each new member is
// audited with their profile before and after.
func (s *Service) AddMembers(ctx context.Context, actor Actor, groupRef string, userRefs ...string) error {
	return s.changeMembers(ctx, actor, groupRef, userRefs, true)
}

// RemoveMembers ends the users' (by email or ID) membership of the group;
// a user who is not a member is no error. Each change is audited with the
// profile before and after.
func (s *Service) RemoveMembers(ctx context.Context, actor Actor, groupRef string, userRefs ...string) error {
	return s.changeMembers(ctx, actor, groupRef, userRefs, false)
}

func (s *Service) changeMembers(ctx context.Context, actor Actor, groupRef string, userRefs []string, add bool) error {
	g, err := s.GetGroup(ctx, groupRef)
	if err != nil {
		return err
	}
	type change struct {
		u         users.User
		was, will []users.Group
	}
	var changes []change
	var ids []string
	for _, ref := range userRefs {
		u, err := s.FindUser(ctx, ref)
		if err != nil {
			return err
		}
		if slices.Contains(ids, u.ID) {
			continue
		}
		was, err := s.GroupsOf(ctx, u)
		if err != nil {
			return err
		}
		member := slices.ContainsFunc(was, func(x users.Group) bool { return x.ID == g.ID })
		if member == add {
			continue // nothing to do
		}
		will := removeGroup(was, g.ID)
		if add {
			will = append(will, g)
			if err := checkProfile(u, will); err != nil {
				return err
			}
		}
		changes = append(changes, change{u, was, will})
		ids = append(ids, u.ID)
	}
	if len(ids) == 0 {
		return nil
	}
	action := actionGroupMemberRemove
	if add {
		action = actionGroupMemberAdd
		err = s.st.AddGroupMembers(ctx, g.ID, ids...)
	} else {
		err = s.st.RemoveGroupMembers(ctx, g.ID, ids...)
	}
	if err != nil {
		return notFoundAs(err, fmt.Sprintf("The group %s or one of the users no longer exists.", g.Name))
	}
	var errs []error
	for _, c := range changes {
		errs = append(errs, s.audit(ctx, actor, Change{Action: action, User: &c.u, Reason: "group " + g.Name,
			Before: ProfileView(c.u, c.was), After: ProfileView(c.u, c.will)}))
	}
	return errors.Join(errs...)
}

// checkProfile refuses a membership that gives u a profile Flex would
// refuse: conflicting values (a Conflict naming the user, the attribute
// and the groups) or an invalid merged value.
func checkProfile(u users.User, groups []users.Group) error {
	_, err := users.Effective(u, groups)
	var ce *users.ConflictError
	if errors.As(err, &ce) {
		return &Error{Code: Conflict, Message: ce.Error(), Err: err}
	}
	if err != nil {
		return &Error{Code: Invalid, Message: fmt.Sprintf("%s's groups would give them a value Flex refuses: %v", u.Email, err), Err: err}
	}
	return nil
}

// replaceGroup returns gs with the group of g's ID replaced by g.
func replaceGroup(gs []users.Group, g users.Group) []users.Group {
	return append(removeGroup(gs, g.ID), g)
}

// removeGroup returns a copy of gs without the group id.
func removeGroup(gs []users.Group, id string) []users.Group {
	return slices.DeleteFunc(slices.Clone(gs), func(x users.Group) bool { return x.ID == id })
}

func membersAffected(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d member(s) affected", n)
}

// GroupView is what the audit trail records of a group.
func GroupView(g users.Group) map[string]any {
	m := map[string]any{"name": g.Name, "description": g.Description, "roles": g.Roles, "team": g.Team, "program": g.Program}
	if g.ExternalID != "" {
		m["external_id"] = g.ExternalID
	}
	if len(g.Attributes) > 0 {
		m["attributes"] = g.Attributes
	}
	return m
}

// ProfileView is what the audit trail records of u's effective profile
// as a member of groups; conflicts are recorded as such.
func ProfileView(u users.User, groups []users.Group) map[string]any {
	p, err := users.Effective(u, groups)
	m := map[string]any{"groups": p.Groups, "roles": p.User.Roles, "team": p.User.Team, "program": p.User.Program}
	if len(p.User.Attributes) > 0 {
		m["attributes"] = p.User.Attributes
	}
	if err != nil {
		m["refused"] = err.Error()
	}
	return m
}
