package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/flexidp/flexidp/internal/store/sqltable"
	"github.com/flexidp/flexidp/internal/users"
)

// groupOrder is the case-folded name, in byte order whatever the locale.
const groupOrder = `lower(name COLLATE "und-x-icu") COLLATE "C"`

var groupRecord = newRecord(sqltable.Groups, groupOrder+`, id`)

// CreateGroup implements store.Store.
func (s *Store) CreateGroup(ctx context.Context, g users.Group) error {
	return groupRecord.create(ctx, s, g)
}

// GetGroup implements store.Store.
func (s *Store) GetGroup(ctx context.Context, id string) (users.Group, error) {
	g, err := groupRecord.get(ctx, s.pool, "id = $1", id)
	return g, wrap("get group", err)
}

// GetGroupByName implements store.Store (groups_name_lower_key).
func (s *Store) GetGroupByName(ctx context.Context, name string) (users.Group, error) {
	g, err := groupRecord.get(ctx, s.pool, `lower(name COLLATE "und-x-icu") = lower($1 COLLATE "und-x-icu")`, name)
	return g, wrap("get group by name", err)
}

// GetGroupByExternalID implements store.Store.
func (s *Store) GetGroupByExternalID(ctx context.Context, externalID string) (users.Group, error) {
	g, err := groupRecord.get(ctx, s.pool, `external_id = $1 AND external_id <> ''`, externalID)
	return g, wrap("get group by external ID", err)
}

// ListGroups implements store.Store.
func (s *Store) ListGroups(ctx context.Context) ([]users.Group, error) {
	return groupRecord.list(ctx, s, "list groups", "", "")
}

// UpdateGroup implements store.Store.
func (s *Store) UpdateGroup(ctx context.Context, id string, update func(users.Group) (users.Group, error)) (users.Group, error) {
	return groupRecord.update(ctx, s, id, update)
}

// DeleteGroup implements store.Store; memberships go with the group (ON
// DELETE CASCADE).
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	return groupRecord.delete(ctx, s, id)
}

// AddGroupMembers implements store.Store in one statement: a missing
// group or user violates a foreign key (ErrNotFound) and nothing is added.
func (s *Store) AddGroupMembers(ctx context.Context, groupID string, userIDs ...string) error {
	if len(userIDs) == 0 {
		_, err := s.GetGroup(ctx, groupID)
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO group_members (group_id, user_id)
		SELECT $1, u FROM unnest($2::text[]) AS u
		ON CONFLICT (group_id, user_id) DO NOTHING`, groupID, userIDs)
	return wrap("add group members", err)
}

// RemoveGroupMembers implements store.Store.
func (s *Store) RemoveGroupMembers(ctx context.Context, groupID string, userIDs ...string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM group_members WHERE group_id = $1 AND user_id = ANY($2)`, groupID, userIDs)
	return wrap("remove group members", err)
}

// GroupMembers implements store.Store.
func (s *Store) GroupMembers(ctx context.Context, groupID string) ([]users.User, error) {
	return userRecord.list(ctx, s, "list group members",
		`WHERE id IN (SELECT user_id FROM group_members WHERE group_id = $1)`, "", groupID)
}

// UserGroups implements store.Store in one query.
func (s *Store) UserGroups(ctx context.Context, userID string) ([]users.Group, error) {
	return groupRecord.list(ctx, s, "list user's groups",
		`WHERE id IN (SELECT group_id FROM group_members WHERE user_id = $1)`, "", userID)
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

// MembersGroups implements store.Store in one query.
func (s *Store) MembersGroups(ctx context.Context, groupID string) (map[string][]users.Group, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+groupMemberCols+`
		FROM group_members m JOIN groups g ON g.id = m.group_id
		WHERE m.user_id IN (SELECT user_id FROM group_members WHERE group_id = $1)
		ORDER BY m.user_id, lower(g.name COLLATE "und-x-icu") COLLATE "C", g.id`, groupID)
	out := make(map[string][]users.Group)
	_, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var user string
		g, err := groupRecord.Read(func(dest ...any) error { return row.Scan(append([]any{&user}, dest...)...) }, groupRecord.decoder)
		if err == nil {
			out[user] = append(out[user], g)
		}
		return struct{}{}, err
	})
	if err != nil {
		return nil, wrap("list members' groups", err)
	}
	return out, nil
}
