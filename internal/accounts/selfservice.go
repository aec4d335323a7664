package accounts

import (
	"context"
	"errors"
	"slices"

	"github.com/flexidp/flexidp/internal/mfa"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// Audit actions of the account page.
const (
	AuditPasswordChanged = "password.changed"
	AuditRecoveryCodes   = "mfa.recovery_codes_renewed"
	AuditSignOutOthers   = "sessions.signed_out_elsewhere"
)

// ErrWrongCurrentPassword refuses a password change whose current
// password is wrong; it counts as a failed sign-in of the account.
var ErrWrongCurrentPassword = &Error{Code: Invalid, Message: "Your current password is not correct.", Key: "account.wrong_current"}

// ErrNoTwoStep refuses new recovery codes to a user without a confirmed
// second factor.
var ErrNoTwoStep = &Error{Code: Conflict, Message: "Two-step verification is off for your account; set it up first.", Key: "account.no_twostep"}

// ChangePassword is a signed-in user changing their own password. The
// current password is checked as a sign-in checks it, under the same
// throttle (the account and the client address): a wrong one counts as a
// failed sign-in, so a stolen session cannot be used to guess it. Then
// next must satisfy the policy; its hash is stored as a new credential
// version, every other session of the user ends (keepSessionID, the one
// making the change, stays) and the change is audited. It returns how
// many sessions ended, or *ThrottledError, ErrWrongCurrentPassword, an
// Invalid error (the policy's sentence), users.ErrBusy or an internal
// error.
func (s *Service) ChangePassword(ctx context.Context, u users.User, current, next, keepSessionID, address string) (int, error) {
	got, err := s.checkCurrentPassword(ctx, u, current, address, "password change")
	if err != nil {
		return 0, err
	}
	h, err := s.checkAndHash(ctx, got, next)
	if err != nil {
		return 0, err
	}
	oldHash := got.PasswordHash
	changed := false
	u, err = s.st.UpdateUser(ctx, u.ID, func(cur users.User) (users.User, error) {
		if cur.PasswordHash == oldHash { // no other change meanwhile
			cur.SetPasswordHash(h) // a new credential version: pending sign-ins start again
			changed = true
		}
		return cur, nil
	})
	if err != nil {
		return 0, notFoundAs(err, "The user no longer exists.")
	}
	if !changed {
		return 0, &Error{Code: Conflict, Message: "Your password was changed meanwhile; sign in again.", Key: "account.changed_meanwhile"}
	}
	ended, err := s.endOtherSessions(ctx, u.ID, keepSessionID)
	if err != nil {
		return ended, err
	}
	return ended, s.Audit(ctx, store.AuditEvent{Action: AuditPasswordChanged, Actor: u.Email, UserID: u.ID, Email: u.Email,
		RemoteAddr: address, Reason: "self-service", Details: Details(map[string]int{"sessions_ended": ended})})
}

// checkCurrentPassword checks the current password of u, signed in, who
// asks for a change that needs it (what names the change in the audit
// trail). It is checked as a sign-in checks it, under the same throttle
// (the account and the client address): a wrong one counts as a failed
// sign-in, so a stolen session cannot be used to guess it. It returns the
// user as stored, or *ThrottledError, ErrWrongCurrentPassword,
// ErrDisabled, users.ErrBusy or an internal error.
func (s *Service) checkCurrentPassword(ctx context.Context, u users.User, current, address, what string) (users.User, error) {
	fail := store.AuditEvent{Action: AuditSignInFailure, Actor: u.Email, UserID: u.ID, Email: u.Email, RemoteAddr: address}
	rules := []Rule{s.AccountRule(u.Email)}
	if address != "" {
		rules = append(rules, s.AddressRule(address))
	}
	attempt, err := s.Admit(ctx, rules...)
	var throttled *ThrottledError
	if errors.As(err, &throttled) {
		fail.Reason = what + ": throttled"
		_ = s.Audit(ctx, fail)
		return users.User{}, err
	} else if err != nil {
		return users.User{}, err
	}
	got, err := s.authenticate(ctx, u.Email, current)
	if err == nil && got.ID != u.ID {
		err = errUnknownUser // the email moved to another account meanwhile
	}
	switch {
	case errors.Is(err, errUnknownUser), errors.Is(err, errNoPassword), errors.Is(err, errWrongPassword):
		locked := attempt.Failed(ctx)
		fail.Reason = what + ": " + err.Error()
		_ = s.Audit(ctx, fail)
		if len(locked) > 0 {
			_ = s.Audit(ctx, store.AuditEvent{Action: AuditLockout, Actor: u.Email, UserID: u.ID, Email: u.Email, RemoteAddr: address,
				Reason: "too many failed sign-ins", Details: Details(map[string]any{"keys": locked, "for": s.lockout.LockFor.String()})})
		}
		return users.User{}, ErrWrongCurrentPassword
	case err != nil:
		attempt.Refund(ctx)
		return users.User{}, err
	}
	attempt.Succeeded(ctx)
	if got.Disabled {
		return users.User{}, ErrDisabled
	}
	return got, nil
}

// endOtherSessions ends every session of the user but keep (all of them
// when keep is empty), in one store statement, and returns how many ended.
func (s *Service) endOtherSessions(ctx context.Context, userID, keep string) (int, error) {
	if keep == "" {
		return s.st.DeleteUserSessions(ctx, userID)
	}
	return s.st.DeleteOtherSessions(ctx, userID, keep)
}

// SignOutOthers ends every session of u except keepSessionID (the
// browser asking) and records it; it returns how many ended.
func (s *Service) SignOutOthers(ctx context.Context, u users.User, keepSessionID, address string) (int, error) {
	n, err := s.endOtherSessions(ctx, u.ID, keepSessionID)
	if err != nil {
		return n, err
	}
	return n, s.Audit(ctx, store.AuditEvent{Action: AuditSignOutOthers, Actor: u.Email, UserID: u.ID, Email: u.Email,
		RemoteAddr: address, Details: Details(map[string]int{"sessions_ended": n})})
}

// NewRecoveryCodes replaces u's recovery codes with new ones, to be shown
// once: the old ones stop working. The user proves the second factor
// first with code (a TOTP code of secret, the factor's secret in the
// clear, or one of the current recovery codes), checked and throttled as
// CheckCode does, so that a stolen session alone cannot take over the
// factor's fallback. It returns the codes, or ErrNoTwoStep, or what
// CheckCode returns.
func (s *Service) NewRecoveryCodes(ctx context.Context, u users.User, secret, code, address string) ([]string, error) {
	m, err := s.st.GetMFA(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) || err == nil && m.ConfirmedAt.IsZero() {
		return nil, ErrNoTwoStep
	} else if err != nil {
		return nil, err
	}
	if _, err := s.CheckCode(ctx, u, secret, code, m.RecoveryCodes, address); err != nil {
		return nil, err
	}
	codes, hashes, err := mfa.NewRecoveryCodes()
	if err != nil {
		return nil, err
	}
	if _, err := s.st.UpdateMFA(ctx, u.ID, func(cur store.MFA) (store.MFA, error) {
		if cur.ConfirmedAt.IsZero() || !slices.Equal(cur.Secret, m.Secret) {
			return cur, ErrNoTwoStep // reset (and perhaps enrolled again) meanwhile
		}
		cur.RecoveryCodes = hashes
		return cur, nil
	}); errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoTwoStep
	} else if err != nil {
		return nil, err
	}
	return codes, s.Audit(ctx, store.AuditEvent{Action: AuditRecoveryCodes, Actor: u.Email, UserID: u.ID, Email: u.Email,
		RemoteAddr: address, Details: Details(map[string]int{"codes": len(codes)})})
}

// Releases returns what each service provider the user may enter (not
// requiring assignment, or assigned) would receive about them at their
// next sign-in (PreviewRelease). An SP whose release policy refuses the
// user is included with Refusal set to the reason.
func (s *Service) Releases(ctx context.Context, u users.User) ([]Release, error) {
	sps, err := s.Apps(ctx, u)
	if err != nil {
		return nil, err
	}
	gs, err := s.GroupsOf(ctx, u)
	if err != nil {
		return nil, err
	}
	prof, perr := users.Effective(u, gs)
	var out []Release
	for _, p := range sps {
		pv, err := preview(u, prof, perr, p, true) // Apps are the SPs u may enter
		if err != nil {
			out = append(out, Release{Preview: Preview{User: u, SP: p, Profile: prof}, Refusal: err.Error()})
			continue
		}
		out = append(out, Release{Preview: pv})
	}
	return out, nil
}

// Release is one SP's Preview for the account page.
type Release struct {
	Preview
	// Refusal is why the SP would refuse the user, if it would.
	Refusal string
}
