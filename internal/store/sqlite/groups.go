package sqlite

import (
	"context"
	"strings"

	"github.com/flexidp/flexidp/internal/store/sqltable"
	"github.com/flexidp/flexidp/internal/users"
)

var groupRecord = (&record[users.Group]{Table: sqltable.Groups, order: "name_key, id",
	derived: []string{"name_key"},
	derive:  func(g *users.Group) []any { return []any{strings.ToLower(g.Name)} },
}).init()

// CreateGroup stores a new group; zero CreatedAt and UpdatedAt are set to
// now.
func (s *Store) CreateGroup(ctx context.Context, g users.Group) error {
	return groupRecord.create(ctx, s, g)
}

// GetGroup returns the group with that ID.
func (s *Store) GetGroup(ctx context.Context, id string) (users.Group, error) {
	g, err := groupRecord.get(ctx, s.r, `id = ?`, id)
	return g, wrap("get group", err)
}

// GetGroupByName finds a group by name, case-insensitively (name_key is
// folded in Go, as email_key is).
func (s *Store) GetGroupByName(ctx context.Context, name string) (users.Group, error) {
	g, err := groupRecord.get(ctx, s.r, `name_key = ?`, strings.ToLower(name))
	return g, wrap("get group by name", err)
}

// GetGroupByExternalID finds a group by its non-empty external ID.
func (s *Store) GetGroupByExternalID(ctx context.Context, externalID string) (users.Group, error) {
	g, err := groupRecord.get(ctx, s.r, `external_id = ? AND external_id <> ''`, externalID)
	return g, wrap("get group by external ID", err)
}

// ListGroups returns every group ordered by folded name.
func (s *Store) ListGroups(ctx context.Context) ([]users.Group, error) {
	return groupRecord.list(ctx, s, "list groups", "", "")
}

// UpdateGroup runs update on the current group and stores the result, in
// one transaction. update must not call the Store's write methods.
func (s *Store) UpdateGroup(ctx context.Context, id string, update func(users.Group) (users.Group, error)) (users.Group, error) {
	return groupRecord.update(ctx, s, id, update)
}

// DeleteGroup removes the group; its memberships go with it (ON DELETE
// CASCADE).
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	return groupRecord.delete(ctx, s, id)
}

// AddGroupMembers adds the users to the group in one transaction; a
// missing group or user violates a foreign key (store.ErrNotFound) and
// rolls every insert back.
func (s *Store) AddGroupMembers(ctx context.Context, groupID string, userIDs ...string) error {
	return wrap("add group members", s.write(ctx, func(tx *txn) error {
		if _, err := groupRecord.get(ctx, tx, `id = ?`, groupID); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO group_members (group_id, user_id) VALUES (?, ?)
			ON CONFLICT (group_id, user_id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, id := range userIDs {
			if _, err := stmt.ExecContext(ctx, groupID, id); err != nil {
				return err
			}
		}
		return nil
	}))
}

// RemoveGroupMembers ends the users' memberships in one statement.
func (s *Store) RemoveGroupMembers(ctx context.Context, groupID string, userIDs ...string) error {
	if len(userIDs) == 0 {
		return nil
	}
	args := []any{groupID}
	for _, id := range userIDs {
		args = append(args, id)
	}
	_, err := s.exec(ctx, `DELETE FROM group_members WHERE group_id = ? AND user_id IN (`+
		strings.TrimSuffix(strings.Repeat("?, ", len(userIDs)), ", ")+`)`, args...)
	return wrap("remove group members", err)
}

// GroupMembers returns the group's members, ordered as ListUsers orders.
func (s *Store) GroupMembers(ctx context.Context, groupID string) ([]users.User, error) {
	return userRecord.list(ctx, s, "list group members",
		`WHERE id IN (SELECT user_id FROM group_members WHERE group_id = ?)`, "", groupID)
}

// UserGroups returns the user's groups in one query (the member index
// group_members_user_id, joined to groups by primary key).
func (s *Store) UserGroups(ctx context.Context, userID string) ([]users.Group, error) {
	return groupRecord.list(ctx, s, "list user's groups",
		`WHERE id IN (SELECT group_id FROM group_members WHERE user_id = ?)`, "", userID)
}

// groupMemberCols are the groups' columns qualified for a join, with the
// member's user ID first.
var groupMemberCols = func() string {
	cols := []string{"m.user_id"}
	for _, c := range sqltable.Groups.Cols {
		cols = append(cols, "g."+c)
	}
	return strings.Join(cols, ", ")
}()

// MembersGroups returns every group of every member of the group, in one
// query.
func (s *Store) MembersGroups(ctx context.Context, groupID string) (map[string][]users.Group, error) {
	type pair struct {
		user  string
		group users.Group
	}
	scan := func(sc scanner) (pair, error) {
		var p pair
		g, err := groupRecord.scan(prefixed{sc, &p.user})
		p.group = g
		return p, err
	}
	pairs, err := collect(ctx, s, "list members' groups", scan, `SELECT `+groupMemberCols+`
		FROM group_members m JOIN groups g ON g.id = m.group_id
		WHERE m.user_id IN (SELECT user_id FROM group_members WHERE group_id = ?)
		ORDER BY m.user_id, g.name_key, g.id`, groupID)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]users.Group)
	for _, p := range pairs {
		out[p.user] = append(out[p.user], p.group)
	}
	return out, nil
}

// prefixed scans a leading column into first, then the rest as sc would.
type prefixed struct {
	sc    scanner
	first any
}

func (p prefixed) Scan(dest ...any) error { return p.sc.Scan(append([]any{p.first}, dest...)...) }
