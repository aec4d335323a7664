package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// Audit actions of sign-in and self-service events. Administrative
// changes are "admin." + Change.Action.
const (
	AuditSignIn        = "signin.success"
	AuditSignInFailure = "signin.failure"
	AuditLockout       = "lockout"
	AuditMFAEnrolled   = "mfa.enrolled"
	AuditMFAFailure    = "mfa.failure"
	AuditMFARecovery   = "mfa.recovery_code_used"
	AuditResponse      = "saml.response"
	AuditLogout        = "logout"
	AuditPasswordSet   = "password.set"
)

// Throttle keys: an account by email (lower-cased, so every spelling of
// one address shares a count), a client address, a user's second factor.
func AccountKey(email string) string { return "acct:" + strings.ToLower(email) }

// AddressKey is the throttle key of a client address.
func AddressKey(ip string) string { return "ip:" + ip }

// MFAKey is the throttle key of a user's second factor.
func MFAKey(userID string) string { return "mfa:" + userID }

// Unlock ends the sign-in lock and back-off of an account, and of a client
// address when address is not empty. ref may name no existing user:
// unknown emails are throttled like real ones, and can be unlocked alike.
// It returns the keys that had a record.
func (s *Service) Unlock(ctx context.Context, actor Actor, ref, address string) ([]string, error) {
	u, err := s.FindUser(ctx, ref)
	if ErrorCode(err) == NotFound {
		u, err = users.User{Email: ref}, nil
	}
	if err != nil {
		return nil, err
	}
	unlocked, err := s.unlock(ctx, u.Email, u.ID, address)
	if err != nil {
		return nil, err
	}
	return unlocked, s.audit(ctx, actor, Change{Action: "user.unlock", User: &u, Reason: strings.Join(unlocked, ",")})
}

// unlock deletes the throttle records of an account, its second factor
// (when userID is known) and an address (when given).
func (s *Service) unlock(ctx context.Context, email, userID, address string) ([]string, error) {
	keys := []string{AccountKey(email)}
	if userID != "" {
		keys = append(keys, MFAKey(userID))
	}
	if address != "" {
		keys = append(keys, AddressKey(address))
	}
	var unlocked []string
	for _, k := range keys {
		if err := s.st.DeleteThrottle(ctx, k); err == nil {
			unlocked = append(unlocked, k)
		} else if !errors.Is(err, store.ErrNotFound) {
			return unlocked, fmt.Errorf("unlock %s: %w", k, err)
		}
	}
	return unlocked, nil
}

// ResetMFA removes the user's second factors (a lost phone or security
// key): the TOTP factor and every passkey. It ends their sessions and
// clears the second factor's throttle. They enrol again at their next
// sign-in if a role requires it. It returns how many sessions ended.
func (s *Service) ResetMFA(ctx context.Context, actor Actor, ref string) (int, error) {
	u, err := s.FindUser(ctx, ref)
	if err != nil {
		return 0, err
	}
	totp := true
	if err := s.st.DeleteMFA(ctx, u.ID); errors.Is(err, store.ErrNotFound) {
		totp = false
	} else if err != nil {
		return 0, err
	}
	passkeys, err := s.st.DeleteUserPasskeys(ctx, u.ID)
	if err != nil {
		return 0, err
	}
	if !totp && passkeys == 0 {
		return 0, errorf(Conflict, "%s has no two-step verification and no passkey.", u.Email)
	}
	// A sign-in already past the password was headed for a removed
	// factor: it starts again.
	if err := s.credentialsChanged(ctx, u.ID); err != nil {
		return 0, err
	}
	n, err := s.st.DeleteUserSessions(ctx, u.ID)
	if err != nil {
		return 0, err
	}
	if err := s.st.DeleteThrottle(ctx, MFAKey(u.ID)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return n, err
	}
	return n, s.audit(ctx, actor, Change{Action: "user.reset-mfa", User: &u,
		Reason: fmt.Sprintf("%d session(s) ended, TOTP removed: %t, %d passkey(s) removed", n, totp, passkeys)})
}

// Sessions returns the user's IdP sessions, newest first.
func (s *Service) Sessions(ctx context.Context, ref string) (users.User, []store.Session, error) {
	u, err := s.FindUser(ctx, ref)
	if err != nil {
		return u, nil, err
	}
	list, err := s.st.ListSessions(ctx, u.ID)
	return u, list, err
}

// RevokeSession ends one session by its ID and returns its user (only the
// ID when the user is gone).
func (s *Service) RevokeSession(ctx context.Context, actor Actor, id string) (users.User, error) {
	sess, err := s.st.GetSession(ctx, id)
	if err != nil {
		return users.User{}, notFoundAs(err, fmt.Sprintf("There is no session with ID %q.", id))
	}
	if err := s.st.DeleteSession(ctx, sess.ID); err != nil {
		return users.User{}, notFoundAs(err, fmt.Sprintf("There is no session with ID %q.", id))
	}
	u, err := s.st.GetUser(ctx, sess.UserID)
	if err != nil {
		u = users.User{ID: sess.UserID}
	}
	return u, s.audit(ctx, actor, Change{Action: "sessions.revoke", User: &u, Reason: "session " + sess.ID})
}

// RevokeSessions ends every session of the user and returns how many.
func (s *Service) RevokeSessions(ctx context.Context, actor Actor, ref string) (users.User, int, error) {
	u, err := s.FindUser(ctx, ref)
	if err != nil {
		return u, 0, err
	}
	n, err := s.st.DeleteUserSessions(ctx, u.ID)
	if err != nil {
		return u, 0, err
	}
	return u, n, s.audit(ctx, actor, Change{Action: "sessions.revoke", User: &u, Reason: fmt.Sprintf("all sessions (%d)", n)})
}

// TwoStepStatus describes u's second factor in a sentence.
func (s *Service) TwoStepStatus(ctx context.Context, u users.User) string {
	m, err := s.st.GetMFA(ctx, u.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "off"
	case err != nil:
		return "unknown: " + err.Error()
	case m.ConfirmedAt.IsZero():
		return "enrolment pending"
	}
	return fmt.Sprintf("on since %s, %d recovery code(s) left", m.ConfirmedAt.Format(time.DateOnly), len(m.RecoveryCodes))
}

// LockStatus describes the sign-in throttle of u's account in a sentence.
func (s *Service) LockStatus(ctx context.Context, u users.User) string {
	t, err := s.st.GetThrottle(ctx, AccountKey(u.Email))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "none"
	case err != nil:
		return "unknown: " + err.Error()
	case s.now().Before(t.LockedUntil):
		return fmt.Sprintf("locked until %s (idp users unlock)", t.LockedUntil.Format(time.DateTime))
	}
	return fmt.Sprintf("%d recent failed sign-in(s)", t.Failures)
}
