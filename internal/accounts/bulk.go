package accounts

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/importer"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// Bulk actions on a selection of users (the console's users page).
const (
	BulkAddRole    = "add-role"
	BulkRemoveRole = "remove-role"
	BulkSetTeam    = "set-team"
	BulkDisable    = "disable"
)

// MaxBulk caps a selection: a page of the users list at most.
const MaxBulk = MaxUserPage

// BulkAction is one change applied to each user of a selection.
type BulkAction struct {
	// Kind is BulkAddRole, BulkRemoveRole, BulkSetTeam or BulkDisable.
	Kind string
	// Role is the Flex role to add or remove; Team the team to set ("" removes it).
	Role, Team string
}

// BulkResult says what a bulk action did.
type BulkResult struct {
	// Changed and Unchanged count the users changed and those who already
	// were as asked (not written, not recorded).
	Changed, Unchanged int
	// Refused are the sentences of the users the change was refused for
	// (the last console owner cannot be disabled); the others are changed.
	Refused []string
}

// Bulk applies a to each user of refs (emails or IDs), each change on its
// own and recorded as the single change would be. The action is checked
// before any user is touched: an unknown kind, a role that is not a Flex
// role (with the "did you mean" suggestion) or a bad team changes nobody.
func (s *Service) Bulk(ctx context.Context, actor Actor, a BulkAction, refs []string) (BulkResult, error) {
	if err := a.check(len(refs)); err != nil {
		return BulkResult{}, err
	}
	var res BulkResult
	for _, ref := range refs {
		changed, err := s.bulkOne(ctx, actor, a, ref)
		switch {
		case ErrorCode(err) == Conflict || ErrorCode(err) == NotFound:
			res.Refused = append(res.Refused, err.Error())
		case err != nil:
			return res, err
		case changed:
			res.Changed++
		default:
			res.Unchanged++
		}
	}
	return res, nil
}

func (a BulkAction) check(n int) error {
	switch {
	case n == 0:
		return &Error{Code: Invalid, Field: "selection", Message: "Select at least one user."}
	case n > MaxBulk:
		return &Error{Code: Invalid, Field: "selection", Message: fmt.Sprintf("Select at most %d users at a time (got %d).", MaxBulk, n)}
	}
	switch a.Kind {
	case BulkAddRole, BulkRemoveRole:
		if a.Role == "" {
			return &Error{Code: Invalid, Field: "role", Message: "Choose the role to add or remove."}
		}
		if err := attributes.ValidateRoles([]string{a.Role}); err != nil {
			return &Error{Code: Invalid, Field: "role", Message: err.Error(), Err: err}
		}
	case BulkSetTeam:
		if a.Team != "" {
			if _, err := attributes.Parse("team", a.Team); err != nil {
				return &Error{Code: Invalid, Field: "team", Message: err.Error(), Err: err}
			}
		}
	case BulkDisable:
	default:
		return &Error{Code: Invalid, Field: "action", Message: fmt.Sprintf("%q is not an action on a selection (add-role, remove-role, set-team, disable).", a.Kind)}
	}
	return nil
}

// bulkOne applies a to one user and reports whether it changed them.
func (s *Service) bulkOne(ctx context.Context, actor Actor, a BulkAction, ref string) (bool, error) {
	u, err := s.FindUser(ctx, ref)
	if err != nil {
		return false, err
	}
	if a.Kind == BulkDisable {
		if u.Disabled {
			return false, nil
		}
		_, err := s.Disable(ctx, actor, u.ID)
		return err == nil, err
	}
	change := func(cur *users.User) {
		switch a.Kind {
		case BulkAddRole:
			if !slices.Contains(cur.Roles, a.Role) {
				cur.Roles = append(slices.Clone(cur.Roles), a.Role)
			}
		case BulkRemoveRole:
			cur.Roles = slices.DeleteFunc(slices.Clone(cur.Roles), func(r string) bool { return r == a.Role })
		case BulkSetTeam:
			cur.Team = a.Team
		}
	}
	want := u
	change(&want)
	if slices.Equal(want.Roles, u.Roles) && want.Team == u.Team {
		return false, nil
	}
	_, err = s.UpdateUser(ctx, actor, u.ID, "user.bulk-"+a.Kind, func(cur *users.User) error { change(cur); return nil })
	return err == nil, err
}

// ExportUsers writes the users of refs (emails or IDs), in that order, as
// flexidp CSV, the importer's format, without password hashes, and
// records the export. An unknown user is NotFound and nothing is written.
func (s *Service) ExportUsers(ctx context.Context, actor Actor, w io.Writer, refs []string) (int, error) {
	if len(refs) == 0 {
		return 0, &Error{Code: Invalid, Field: "selection", Message: "Select at least one user to export."}
	}
	list := make([]users.User, 0, len(refs))
	for _, ref := range refs {
		u, err := s.FindUser(ctx, ref)
		if err != nil {
			return 0, err
		}
		list = append(list, u)
	}
	if err := importer.WriteCSV(w, list, false); err != nil {
		return 0, fmt.Errorf("write CSV: %w", err)
	}
	return len(list), s.Audit(ctx, store.AuditEvent{Action: "admin.users.export", Actor: actor.Name, RemoteAddr: actor.Address,
		Reason: fmt.Sprintf("%d user(s), CSV", len(list))})
}
