package accounts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// FindUser looks a user up by email (any case) or ID.
func (s *Service) FindUser(ctx context.Context, ref string) (users.User, error) {
	u, err := s.st.GetUserByEmail(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		u, err = s.st.GetUser(ctx, ref)
	}
	return u, notFoundAs(err, fmt.Sprintf("There is no user with email or ID %q.", ref))
}

// NewUser is what CreateUser needs: the profile, and the password unless
// NoPassword (the user then signs in after an invitation link).
type NewUser struct {
	User       users.User
	Password   string
	NoPassword bool
}

// CreateUser adds a user with a new ID after checking the profile and the
// password policy.
func (s *Service) CreateUser(ctx context.Context, actor Actor, n NewUser) (users.User, error) {
	u := n.User
	u.ID = s.NewUserID()
	u.Email = users.NormalizeEmail(u.Email)
	u.PasswordHash = ""
	u.ConsoleRole = users.ConsoleNone // granted with Grant, audited as such
	if err := u.Validate(); err != nil {
		return users.User{}, invalid(err)
	}
	if !n.NoPassword {
		if err := s.policy.Check(n.Password, u.Email); err != nil {
			return users.User{}, invalid(err)
		}
		h, err := s.hasher.Hash(ctx, n.Password)
		if err != nil {
			return users.User{}, err
		}
		u.PasswordHash = h
	}
	if err := s.st.CreateUser(ctx, u); errors.Is(err, store.ErrConflict) {
		return users.User{}, &Error{Code: Conflict, Message: fmt.Sprintf("A user with email %s already exists.", u.Email), Err: err}
	} else if err != nil {
		return users.User{}, err
	}
	return u, s.audit(ctx, actor, Change{Action: "user.add", User: &u, After: UserView(u)})
}

// UpdateUser applies change to the user atomically, validates the result
// (alone, and merged with the user's groups: users.Effective), and records it as action ("user.update", "user.set-attr", ...). The
// change may not touch the password, the disabled flag, the console role
// or the ID: those
// have functions of their own, with rules of their own.
func (s *Service) UpdateUser(ctx context.Context, actor Actor, ref, action string, change func(*users.User) error) (users.User, error) {
	u, err := s.FindUser(ctx, ref)
	if err != nil {
		return users.User{}, err
	}
	before := u
	groups, err := s.GroupsOf(ctx, u)
	if err != nil {
		return users.User{}, err
	}
	var unchanged users.User
	u, err = s.st.UpdateUser(ctx, u.ID, func(cur users.User) (users.User, error) {
		was := viewJSON(UserView(cur))
		hash, disabled, version, console := cur.PasswordHash, cur.Disabled, cur.CredentialVersion, cur.ConsoleRole
		if err := change(&cur); err != nil {
			return cur, invalid(err)
		}
		cur.PasswordHash, cur.Disabled, cur.CredentialVersion, cur.ConsoleRole = hash, disabled, version, console
		cur.Email = users.NormalizeEmail(cur.Email)
		if err := cur.Validate(); err != nil {
			return cur, invalid(err)
		}
		if viewJSON(UserView(cur)) == was {
			unchanged = cur
			return cur, errUnchanged
		}
		// Dropping an own value can uncover a conflict of the groups.
		return cur, checkProfile(cur, groups)
	})
	if errors.Is(err, errUnchanged) {
		return unchanged, nil
	}
	if errors.Is(err, store.ErrConflict) {
		return users.User{}, &Error{Code: Conflict, Message: "Another user already has that email address.", Err: err}
	} else if err != nil {
		return users.User{}, err
	}
	return u, s.audit(ctx, actor, Change{Action: action, User: &u, Before: UserView(before), After: UserView(u)})
}

// SetPassword checks password against the policy, stores its hash, ends
// every session of the user, and unlocks the account: whoever sets a
// password (an administrator, or the user through a link) starts afresh.
// It returns how many sessions ended.
func (s *Service) SetPassword(ctx context.Context, actor Actor, ref, password string) (int, error) {
	u, err := s.FindUser(ctx, ref)
	if err != nil {
		return 0, err
	}
	return s.setPassword(ctx, actor, u, password, "admin")
}

// setPassword is SetPassword for a known user; reason qualifies the event
// ("admin", "invite", "reset").
func (s *Service) setPassword(ctx context.Context, actor Actor, u users.User, password, reason string) (int, error) {
	h, err := s.checkAndHash(ctx, u, password)
	if err != nil {
		return 0, err
	}
	return s.storePassword(ctx, actor, u, h, reason)
}

// checkAndHash applies the password policy to a new password of u and
// hashes it.
func (s *Service) checkAndHash(ctx context.Context, u users.User, password string) (string, error) {
	if err := s.policy.Check(password, u.Email); err != nil {
		return "", invalid(err)
	}
	return s.hasher.Hash(ctx, password)
}

// storePassword stores a new password hash of u, ends their sessions,
// unlocks the account, and records it.
func (s *Service) storePassword(ctx context.Context, actor Actor, u users.User, hash, reason string) (int, error) {
	u, err := s.st.UpdateUser(ctx, u.ID, func(cur users.User) (users.User, error) {
		cur.SetPasswordHash(hash) // a new credential version: pending sign-ins start again
		return cur, nil
	})
	if err != nil {
		return 0, notFoundAs(err, "The user no longer exists.")
	}
	ended, err := s.st.DeleteUserSessions(ctx, u.ID)
	if err != nil {
		return 0, err
	}
	if _, err := s.unlock(ctx, u.Email, u.ID, ""); err != nil {
		return ended, err
	}
	return ended, s.Audit(ctx, store.AuditEvent{Action: AuditPasswordSet, Actor: actor.Name, RemoteAddr: actor.Address,
		UserID: u.ID, Email: u.Email, Reason: reason, Details: Details(map[string]int{"sessions_ended": ended})})
}

// Disable stops the user from signing in and ends their sessions; it
// returns how many ended.
func (s *Service) Disable(ctx context.Context, actor Actor, ref string) (int, error) {
	return s.setDisabled(ctx, actor, ref, true)
}

// Enable lets a disabled user sign in again.
func (s *Service) Enable(ctx context.Context, actor Actor, ref string) error {
	_, err := s.setDisabled(ctx, actor, ref, false)
	return err
}

func (s *Service) setDisabled(ctx context.Context, actor Actor, ref string, disabled bool) (int, error) {
	u, err := s.FindUser(ctx, ref)
	if err != nil {
		return 0, err
	}
	before := u
	if u, err = s.st.UpdateUser(ctx, u.ID, func(cur users.User) (users.User, error) {
		if disabled {
			cur.Disable() // a new credential version: pending sign-ins end too
		} else {
			cur.Disabled = false
		}
		return cur, nil
	}); err != nil {
		return 0, lastOwner(notFoundAs(err, "The user no longer exists."), before, "disable them")
	}
	action, ended := "user.enable", 0
	if disabled {
		action = "user.disable"
		if ended, err = s.st.DeleteUserSessions(ctx, u.ID); err != nil {
			return 0, err
		}
	}
	return ended, s.audit(ctx, actor, Change{Action: action, User: &u, Before: UserView(before), After: UserView(u),
		Reason: sessionsEnded(ended)})
}

// Delete removes the user, their sessions and assignments. The audit
// trail keeps what they were. The last console owner cannot be deleted.
func (s *Service) Delete(ctx context.Context, actor Actor, ref string) (users.User, error) {
	u, err := s.FindUser(ctx, ref)
	if err != nil {
		return users.User{}, err
	}
	if err := s.st.DeleteUser(ctx, u.ID); err != nil {
		return users.User{}, lastOwner(notFoundAs(err, "The user no longer exists."), u, "delete them")
	}
	return u, s.audit(ctx, actor, Change{Action: "user.delete", User: &u, Before: UserView(u)})
}

func sessionsEnded(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d session(s) ended", n)
}

// errUnchanged ends a store update whose change leaves what the audit
// trail records (UserView, GroupView) as it was: an update that changes
// nothing writes nothing and leaves no audit event, whichever adapter
// (console, CLI, SCIM, API) asked for it.
var errUnchanged = errors.New("accounts: the change changes nothing")

// viewJSON is a view as the audit trail records it, to compare two.
func viewJSON(v map[string]any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// UserView is what the audit trail records of a user: the profile, never
// the password hash (only what kind it is).
func UserView(u users.User) map[string]any {
	m := map[string]any{"email": u.Email, "full_name": u.FullName, "given_name": u.GivenName, "family_name": u.FamilyName,
		"image_url": u.ImageURL, "roles": u.Roles, "team": u.Team, "program": u.Program, "disabled": u.Disabled,
		"password": PasswordKind(u.PasswordHash)}
	if len(u.Attributes) > 0 {
		m["attributes"] = u.Attributes
	}
	if u.ConsoleRole != users.ConsoleNone {
		m["console_role"] = string(u.ConsoleRole)
	}
	if u.ExternalID != "" {
		m["external_id"] = u.ExternalID
	}
	return m
}

// PasswordKind describes a hash without revealing it.
func PasswordKind(h string) string {
	switch {
	case h == "":
		return "not set"
	case strings.HasPrefix(h, "$argon2id$"):
		return "argon2id"
	case strings.HasPrefix(h, "$2"):
		return "bcrypt (imported; upgraded to argon2id at next sign-in)"
	default:
		return "imported (upgraded to argon2id at next sign-in)"
	}
}
