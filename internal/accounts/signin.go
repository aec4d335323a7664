package accounts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/flexidp/flexidp/internal/mfa"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// Why a sign-in was refused. The person sees one message for an unknown
// email, a wrong password and an account without a password, so that the
// page does not reveal which accounts exist.
var (
	// ErrBadCredentials: unknown email, wrong password, or no password.
	ErrBadCredentials = errors.New("wrong email or password")
	// ErrDisabled: the password was right, the account is disabled.
	ErrDisabled = errors.New("account disabled")
	// ErrWrongCode: the second-factor code is not valid now.
	ErrWrongCode = errors.New("wrong code")
	// ErrReplayedCode: the second-factor code was already used.
	ErrReplayedCode = errors.New("code already used")
)

// ThrottledError refuses an attempt before anything is checked, because
// of earlier failures (or, for one account, too many attempts at once).
type ThrottledError struct {
	// Wait is how long until the next attempt may be let through.
	Wait time.Duration
	// Crowded: refused only because too many attempts of one account are
	// in flight at once (not for failures); a moment later will do.
	Crowded bool
}

func (e *ThrottledError) Error() string { return fmt.Sprintf("throttled for %s", e.Wait) }

// SignInRequest is a password sign-in.
type SignInRequest struct {
	Email, Password string
	// Address is the client's address (for the address throttle and the
	// audit trail); SP is the service provider it is for, if any.
	Address, SP string
}

// SignedIn is the user SignIn let in, with what the rest of the sign-in
// decides on when it was read with the user, in the same store query (a
// local account, or one of an OpenID provider): their groups, second
// factor and passkeys. SecondStepAfter and GroupsAfter then read nothing
// more. SignedIn{User: u} is a user whose facts were not read (a
// directory's user, whom the sign-in created or updated): those read them.
type SignedIn struct {
	users.User
	facts *store.SignInFacts
}

// SignIn checks an email and password under the throttle rules, and
// records a refusal in the audit trail. It returns the user, or
// *ThrottledError (decided before the account is looked up: the same for
// existing and unknown accounts), ErrBadCredentials, ErrDisabled,
// ErrDirectoryUnavailable (the directory that checks the password could
// not be reached: try again, no failure counted),
// users.ErrBusy (every hashing slot taken: neither a success nor a
// failure), or an internal error. A success is recorded by the caller once
// the sign-in completes (after any second factor).
func (s *Service) SignIn(ctx context.Context, req SignInRequest) (SignedIn, error) {
	email := users.NormalizeEmail(req.Email)
	// A saturated hasher refuses before anything is read or counted: the
	// store and the throttle are spared the work of a sign-in that could
	// not be answered in time, and those on their way to the hasher count
	// in its queue (users.Hasher.Expect).
	expected, err := s.hasher.Expect(ctx)
	if err != nil {
		return SignedIn{}, err
	}
	defer expected()
	fail := store.AuditEvent{Action: AuditSignInFailure, Actor: email, Email: email, SP: req.SP, RemoteAddr: req.Address}
	attempt, err := s.Admit(ctx, s.AddressRule(req.Address), s.AccountRule(email))
	var throttled *ThrottledError
	if errors.As(err, &throttled) {
		fail.Reason = "throttled"
		_ = s.Audit(ctx, fail)
		return SignedIn{}, err
	} else if err != nil {
		return SignedIn{}, err
	}
	u, err := s.routeSignIn(ctx, email, req.Password)
	switch {
	case errors.Is(err, errUnknownUser), errors.Is(err, errNoPassword), errors.Is(err, errWrongPassword):
		locked := attempt.Failed(ctx)
		fail.UserID, fail.Reason = u.ID, err.Error()
		_ = s.Audit(ctx, fail)
		if len(locked) > 0 {
			_ = s.Audit(ctx, store.AuditEvent{Action: AuditLockout, Actor: email, UserID: u.ID, Email: email, RemoteAddr: req.Address,
				Reason: "too many failed sign-ins", Details: Details(map[string]any{"keys": locked, "for": s.lockout.LockFor.String()})})
		}
		return SignedIn{}, ErrBadCredentials
	case errors.Is(err, ErrDirectoryUnavailable):
		// No verdict on the password: the attempt does not count.
		attempt.Refund(ctx)
		fail.Reason = "directory unavailable"
		_ = s.Audit(ctx, fail)
		return SignedIn{}, err
	case err != nil:
		// Neither a success nor a failure: a saturated hasher (say so at
		// once rather than hash for a browser that has given up), a
		// directory that cannot be reached (ErrDirectoryUnavailable), or
		// an internal error.
		attempt.Refund(ctx)
		return SignedIn{}, err
	}
	attempt.Succeeded(ctx)
	if u.Disabled {
		fail.UserID, fail.Email, fail.Reason = u.ID, u.Email, "disabled"
		_ = s.Audit(ctx, fail)
		return SignedIn{}, ErrDisabled
	}
	return u, nil
}

// Why authenticate refused, for the audit trail.
var (
	errUnknownUser   = errors.New("unknown account")
	errNoPassword    = errors.New("no password set")
	errWrongPassword = errors.New("wrong password")
)

// authenticate checks email and password. An unknown email, and an
// account without a password, cost the same hashing time as a known one.
// A correct password stored with an older scheme or weaker parameters is
// re-hashed with argon2id. On refusal only the user's ID is returned, for
// the audit trail.
func (s *Service) authenticate(ctx context.Context, email, password string) (users.User, error) {
	u, err := s.st.GetUserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		if err := s.hasher.VerifyDummy(ctx, password); err != nil {
			return users.User{}, err
		}
		return users.User{}, errUnknownUser
	} else if err != nil {
		return users.User{}, fmt.Errorf("look up user: %w", err)
	}
	return s.checkPassword(ctx, u, password)
}

// checkPassword is authenticate for the user u, already read.
func (s *Service) checkPassword(ctx context.Context, u users.User, password string) (users.User, error) {
	if u.PasswordHash == "" {
		if err := s.hasher.VerifyDummy(ctx, password); err != nil {
			return users.User{}, err
		}
		return users.User{ID: u.ID}, errNoPassword
	}
	ok, rehash, err := s.hasher.Verify(ctx, u.PasswordHash, password)
	if err != nil {
		return users.User{}, fmt.Errorf("verify password of user %s: %w", u.ID, err)
	}
	if !ok {
		return users.User{ID: u.ID}, errWrongPassword
	}
	if rehash {
		if err := s.upgradeHash(ctx, u, password); err != nil {
			// The sign-in stands; the upgrade is retried next time.
			s.log.WarnContext(ctx, "password hash upgrade failed", "user", u.ID, "err", err)
		}
	}
	return u, nil
}

// upgradeHash stores a stronger hash of the same password. It is not a
// new credential: pending sign-ins stay valid.
func (s *Service) upgradeHash(ctx context.Context, u users.User, password string) error {
	h, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	old := u.PasswordHash
	_, err = s.st.UpdateUser(ctx, u.ID, func(cur users.User) (users.User, error) {
		if cur.PasswordHash == old { // unchanged meanwhile
			cur.PasswordHash = h
		}
		return cur, nil
	})
	if err == nil {
		s.log.InfoContext(ctx, "password hash upgraded to argon2id", "user", u.ID)
	}
	return err
}

// CheckCode checks a second-factor code of u under the throttle rules: a
// TOTP code for secret (each time step accepted once, across replicas), or
// one of the recovery codes (the stored hashes in recovery; nil when they
// do not apply, as during enrolment), which it uses up. It records
// refusals in the audit trail, and returns the method ("totp", "recovery
// code"), or ErrPasskeyRequired (a role of u requires a passkey: no code
// is accepted), *ThrottledError, ErrWrongCode, ErrReplayedCode, or an
// internal error.
func (s *Service) CheckCode(ctx context.Context, u users.User, secret, code string, recovery []string, address string) (string, error) {
	if required, err := s.PasskeyRequired(ctx, u); err != nil {
		return "", err
	} else if required {
		_ = s.Audit(ctx, store.AuditEvent{Action: AuditMFAFailure, Actor: u.Email, UserID: u.ID, Email: u.Email, RemoteAddr: address,
			Reason: "code refused: a role requires a passkey"})
		return "", ErrPasskeyRequired
	}
	return s.secondFactorAttempt(ctx, u, address, func() (string, error) {
		return s.verifyCode(ctx, u, secret, code, recovery, address)
	})
}

// secondFactorAttempt runs check, the check of one of u's second factors,
// under the throttle of u's second factor, and records a refusal
// (ErrWrongCode, ErrReplayedCode, ErrPasskeyRefused) in the audit trail.
// It returns what check returns, or *ThrottledError.
func (s *Service) secondFactorAttempt(ctx context.Context, u users.User, address string, check func() (string, error)) (string, error) {
	fail := store.AuditEvent{Action: AuditMFAFailure, Actor: u.Email, UserID: u.ID, Email: u.Email, RemoteAddr: address}
	attempt, err := s.Admit(ctx, s.MFARule(u.ID))
	var throttled *ThrottledError
	if errors.As(err, &throttled) {
		fail.Reason = "throttled"
		_ = s.Audit(ctx, fail)
		return "", err
	} else if err != nil {
		return "", err
	}
	method, err := check()
	switch {
	case errors.Is(err, ErrWrongCode), errors.Is(err, ErrReplayedCode), errors.Is(err, ErrPasskeyRefused):
		locked := attempt.Failed(ctx)
		fail.Reason = err.Error()
		if e := (*Error)(nil); errors.As(err, &e) && e.Err != nil {
			fail.Reason = e.Err.Error() // why, rather than the sentence shown
		}
		_ = s.Audit(ctx, fail)
		if len(locked) > 0 {
			_ = s.Audit(ctx, store.AuditEvent{Action: AuditLockout, Actor: u.Email, UserID: u.ID, Email: u.Email, RemoteAddr: address,
				Reason: "too many wrong codes", Details: Details(map[string]any{"keys": locked, "for": s.lockout.LockFor.String()})})
		}
		return "", err
	case err != nil:
		attempt.Refund(ctx)
		return "", err
	}
	attempt.Succeeded(ctx)
	return method, nil
}

func (s *Service) verifyCode(ctx context.Context, u users.User, secret, code string, recovery []string, address string) (string, error) {
	if mfa.IsTOTPCode(code) {
		step, ok := mfa.Match(secret, code, s.now())
		if !ok {
			return "", ErrWrongCode
		}
		err := s.st.ConsumeOnce(ctx, fmt.Sprintf("totp:%s:%d", u.ID, step), mfa.StepExpiry(step))
		if errors.Is(err, store.ErrConflict) {
			return "", ErrReplayedCode
		}
		return "totp", err
	}
	if recovery == nil {
		return "", ErrWrongCode
	}
	h := mfa.HashRecoveryCode(code)
	left := 0
	_, err := s.st.UpdateMFA(ctx, u.ID, func(m store.MFA) (store.MFA, error) {
		i := slices.Index(m.RecoveryCodes, h)
		if i < 0 {
			return m, ErrWrongCode
		}
		m.RecoveryCodes = slices.Delete(slices.Clone(m.RecoveryCodes), i, i+1)
		left = len(m.RecoveryCodes)
		return m, nil
	})
	if err != nil {
		return "", err
	}
	_ = s.Audit(ctx, store.AuditEvent{Action: AuditMFARecovery, Actor: u.Email, UserID: u.ID, Email: u.Email, RemoteAddr: address,
		Details: Details(map[string]int{"remaining": left})})
	return "recovery code", nil
}

// ErrEnrolled: the user has a confirmed second factor already (another
// enrolment was confirmed first); an administrator can reset it.
var ErrEnrolled = errors.New("two-step verification is already on")

// ConfirmTOTP ends an enrolment: code must be valid for secret (throttled
// and audited as CheckCode); then sealed (secret as it is to be stored) is
// stored as u's confirmed factor with new recovery codes, unless another
// enrolment was confirmed first (ErrEnrolled). It returns the recovery
// codes, to be shown once.
func (s *Service) ConfirmTOTP(ctx context.Context, u users.User, secret string, sealed []byte, code, address string) ([]string, error) {
	if _, err := s.CheckCode(ctx, u, secret, code, nil, address); err != nil {
		return nil, err
	}
	codes, hashes, err := mfa.NewRecoveryCodes()
	if err != nil {
		return nil, err
	}
	err = s.st.PutMFA(ctx, store.MFA{UserID: u.ID, Secret: sealed, ConfirmedAt: s.now(), RecoveryCodes: hashes})
	if errors.Is(err, store.ErrConflict) {
		return nil, ErrEnrolled
	} else if err != nil {
		return nil, err
	}
	return codes, s.Audit(ctx, store.AuditEvent{Action: AuditMFAEnrolled, Actor: u.Email, UserID: u.ID, Email: u.Email, RemoteAddr: address})
}

// SecondStep is what a sign-in needs once the password is right.
type SecondStep int

// Second steps.
const (
	// NoSecondStep: the password is enough (no factor, none required).
	NoSecondStep SecondStep = iota
	// EnterCode: the user has a second factor that FactorsFor accepts (a
	// TOTP code, or a passkey) and must use it.
	EnterCode
	// Enrol: a role of the user requires a factor the user does not have
	// yet; the sign-in continues with its enrolment.
	Enrol
	// EnrolPasskey: a role of the user requires a passkey
	// (Config.PasskeyRequiredRoles) and the user has none; the sign-in
	// continues with its registration. A TOTP factor does not do.
	EnrolPasskey
)

// SecondStepFor says what a sign-in of u needs after the password: one
// of the factors FactorsFor accepts, the passkey a role of u requires
// (Config.PasskeyRequiredRoles), the enrolment a role of u (its own or a
// group's) requires
// (Config.MFARequiredRoles), or nothing.
func (s *Service) SecondStepFor(ctx context.Context, u users.User) (SecondStep, error) {
	f, err := s.FactorsFor(ctx, u)
	if err != nil {
		return NoSecondStep, err
	}
	return secondStep(f, func() (bool, error) { return s.hasRoleIn(ctx, u, s.mfaFor) })
}

// SecondStepAfter is SecondStepFor for a user SignIn let in, decided on
// what was read with the user when it was (no store read then).
func (s *Service) SecondStepAfter(ctx context.Context, in SignedIn) (SecondStep, error) {
	if in.facts == nil {
		return s.SecondStepFor(ctx, in.User)
	}
	f := s.factors(in.User, in.facts)
	return secondStep(f, func() (bool, error) { return roleIn(in.User, in.facts.Groups, s.mfaFor), nil })
}

// GroupsAfter returns the groups of a user SignIn let in: those read with
// the user, or GroupsOf's.
func (s *Service) GroupsAfter(ctx context.Context, in SignedIn) ([]users.Group, error) {
	if in.facts == nil {
		return s.GroupsOf(ctx, in.User)
	}
	return in.facts.Groups, nil
}

// secondStep is the rule of SecondStepFor over u's factors f, and
// whether a role of u requires a second factor (mfaRequired, asked only
// when f does not decide).
func secondStep(f Factors, mfaRequired func() (bool, error)) (SecondStep, error) {
	switch {
	case f.Passkeys > 0 || f.Code:
		return EnterCode, nil
	case f.PasskeyRequired:
		return EnrolPasskey, nil
	}
	// The roles a group gives count as the user's own: a group carrying
	// admin requires a second factor of its members.
	if required, err := mfaRequired(); err != nil || !required {
		return NoSecondStep, err
	}
	return Enrol, nil
}

// ConfirmedFactor returns the user's second factor when it is confirmed;
// ok is false when there is none, or its enrolment was never confirmed.
func (s *Service) ConfirmedFactor(ctx context.Context, userID string) (m store.MFA, ok bool, err error) {
	m, err = s.st.GetMFA(ctx, userID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.MFA{}, false, nil
	case err != nil:
		return store.MFA{}, false, fmt.Errorf("load second factor: %w", err)
	}
	return m, !m.ConfirmedAt.IsZero(), nil
}

// ErrCredentialsChanged is PendingUser's answer when the user's password,
// links or second factor changed after the password of the sign-in in
// progress was checked: that sign-in must start again.
var ErrCredentialsChanged = errors.New("the user's credentials changed during the sign-in")

// PendingUser returns the user a sign-in in progress stands for (its
// password checked, a further step to come), if that user may still
// finish it: store.ErrNotFound when the user is gone, ErrDisabled,
// ErrCredentialsChanged when credentialVersion, read when the password
// was checked, is no longer the user's.
func (s *Service) PendingUser(ctx context.Context, id string, credentialVersion int64) (users.User, error) {
	u, err := s.st.GetUser(ctx, id)
	switch {
	case err != nil:
		return users.User{}, err
	case u.Disabled:
		return users.User{}, ErrDisabled
	case u.CredentialVersion != credentialVersion:
		return users.User{}, ErrCredentialsChanged
	}
	return u, nil
}
