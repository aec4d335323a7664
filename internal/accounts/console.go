package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// Permission is one thing an admin console user may do. Console roles
// (users.ConsoleRole) are separate from the Flex roles: a Flex admin has
// no console access unless granted it.
type Permission string

// Permissions of the admin console.
const (
	ReadUsers          Permission = "read_users"           // list and show users, their sessions and MFA
	ReadAudit          Permission = "read_audit"           // read the audit log
	ManageUsers        Permission = "manage_users"         // create, edit, disable, unlock, links, MFA reset, sessions
	ImportExport       Permission = "import_export"        // import and export users
	ManageSPs          Permission = "manage_sps"           // service providers
	ManageKeys         Permission = "manage_keys"          // signing keys
	ManageTokens       Permission = "manage_tokens"        // API tokens: list, create, revoke
	ManageConsoleRoles Permission = "manage_console_roles" // grant and revoke console roles
)

// consolePermissions is what each console role allows: the one place
// where permissions are decided. A role not listed (none, or unknown)
// allows nothing.
var consolePermissions = map[users.ConsoleRole][]Permission{
	users.ConsoleViewer:  {ReadUsers, ReadAudit},
	users.ConsoleManager: {ReadUsers, ReadAudit, ManageUsers, ImportExport},
	users.ConsoleOwner:   {ReadUsers, ReadAudit, ManageUsers, ImportExport, ManageSPs, ManageKeys, ManageTokens, ManageConsoleRoles},
}

// Allows reports whether a console user with role may do p.
func Allows(role users.ConsoleRole, p Permission) bool {
	for _, q := range consolePermissions[role] {
		if q == p {
			return true
		}
	}
	return false
}

// AuditConsoleVerify records a console user's re-verification before a
// sensitive action.
const AuditConsoleVerify = "console.reverify"

// ErrNoConsoleAccess: the user has no console role (or one that allows
// nothing), so may not sign in to the console.
var ErrNoConsoleAccess = errors.New("no console access")

// ConsoleSecondStep says what a console sign-in of u needs after the
// password. The console always takes a second factor: a code of the
// factor u has, or its enrolment now; never the password alone.
// ErrNoConsoleAccess when u has no console role: nobody is asked to enrol
// a factor for a console they cannot enter.
func (s *Service) ConsoleSecondStep(ctx context.Context, u users.User) (SecondStep, error) {
	if !Allows(u.ConsoleRole, ReadUsers) {
		return NoSecondStep, ErrNoConsoleAccess
	}
	step, err := s.SecondStepFor(ctx, u)
	if step == NoSecondStep {
		step = Enrol // where a Flex sign-in would take the password alone
	}
	return step, err
}

// ReverifyAfter is how long a console user's last proof of who they are
// (the sign-in, or a re-verification) covers the sensitive actions: keys,
// service providers, console roles, deleting users.
const ReverifyAfter = 5 * time.Minute

// Sensitive reports whether p guards actions that need a recent proof
// (ReverifyAfter): keys, SPs, API tokens, console roles. Deleting a user is sensitive too, though ManageUsers
// is not: the console asks for NeedsReverify on that route itself.
func Sensitive(p Permission) bool {
	return p == ManageSPs || p == ManageKeys || p == ManageTokens || p == ManageConsoleRoles
}

// NeedsReverify reports whether a console user who last proved who they
// are at verified must do so again before a sensitive action.
func (s *Service) NeedsReverify(verified time.Time) bool {
	return verified.IsZero() || s.now().Sub(verified) > ReverifyAfter
}

// Grant sets the console role of the user (ConsoleNone revokes access)
// and records it as "admin.user.grant" with the role before and after.
// A disabled user cannot be granted a role, and the last enabled owner
// cannot be demoted: the console would have nobody left to manage it.
// Granting the role a user already has changes and records nothing.
func (s *Service) Grant(ctx context.Context, actor Actor, ref string, role users.ConsoleRole) (users.User, error) {
	if err := role.Validate(); err != nil {
		return users.User{}, invalid(err)
	}
	u, err := s.FindUser(ctx, ref)
	if err != nil {
		return users.User{}, err
	}
	if u.ConsoleRole == role {
		return u, nil
	}
	if role != users.ConsoleNone && u.Disabled {
		return users.User{}, errorf(Conflict, "%s is disabled: enable the account before granting it console access.", u.Email)
	}
	found := u
	before := u.ConsoleRole
	u, err = s.st.UpdateUser(ctx, u.ID, func(cur users.User) (users.User, error) {
		if role != users.ConsoleNone && cur.Disabled {
			return cur, errorf(Conflict, "%s is disabled: enable the account before granting it console access.", cur.Email)
		}
		cur.ConsoleRole = role
		return cur, nil
	})
	if err != nil {
		return users.User{}, lastOwner(notFoundAs(err, "The user no longer exists."), found, "change their console role")
	}
	return u, s.audit(ctx, actor, Change{Action: "user.grant", User: &u,
		Before: map[string]string{"console_role": string(before)}, After: map[string]string{"console_role": string(role)}})
}

// lastOwner turns the store's refusal to take away the last enabled
// console owner (store.ErrLastOwner: demote, disable, delete: what) into a
// Conflict. The store checks it in the transaction of the change, so two
// such changes, in this process or another, cannot each count the other
// as the owner who remains.
func lastOwner(err error, u users.User, what string) error {
	if errors.Is(err, store.ErrLastOwner) {
		return &Error{Code: Conflict, Err: err, Message: fmt.Sprintf(
			"%s is the last console owner: make another user an owner (idp users grant --console owner) before you %s.", u.Email, what)}
	}
	return err
}
