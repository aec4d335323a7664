package accounts

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// Audit actions of passkeys. A refused passkey is an AuditMFAFailure
// whose reason starts with "passkey".
const (
	AuditPasskeyAdded   = "passkey.added"
	AuditPasskeyRemoved = "passkey.removed"
	// AuditPasskeyCloned: an assertion's signature counter did not move
	// forward, so two copies of the credential's private key may exist.
	// The sign-in is refused.
	AuditPasskeyCloned = "passkey.clone_warning"
)

// Passkey limits.
const (
	// MaxPasskeys is how many passkeys one user may have.
	MaxPasskeys = 20
	// maxPasskeyName is the longest name of a passkey, in characters.
	maxPasskeyName = 64
	// challengeTTL is how long a used challenge is remembered: longer
	// than any state that carries one may live.
	challengeTTL = 30 * time.Minute
)

var (
	// ErrPasskeyRefused: the passkey's answer does not verify (another
	// challenge, another site, an unknown credential, a bad signature),
	// or its challenge was already used.
	ErrPasskeyRefused = errors.New("passkey not accepted")
	// ErrPasskeyRequired refuses a code (TOTP or recovery) to a user a
	// role of whom requires a passkey (Config.PasskeyRequiredRoles).
	ErrPasskeyRequired = &Error{Code: Invalid, Message: "Your role requires a passkey: codes from an authenticator app and recovery codes are not accepted for your account. Use your passkey.", Key: "passkey.required_refused"}
	// ErrLastPasskey refuses to remove the last passkey of a user whose
	// role requires one.
	ErrLastPasskey = &Error{Code: Conflict, Message: "Your role requires a passkey, and this is your only one: add another passkey before you remove it.", Key: "passkey.last"}
	// ErrPasskeysUnavailable: flexidp's base URL is not one a browser
	// accepts for passkeys (no host name, or an IP address).
	ErrPasskeysUnavailable = &Error{Code: Unavailable, Message: "Passkeys are not available on this server: its base URL must name a host (not an IP address).", Key: "passkey.unavailable"}
)

// newRelyingParty returns the WebAuthn relying party of flexidp at base:
// its ID is base's host name, its one origin base's origin.
func newRelyingParty(base *url.URL) (*webauthn.WebAuthn, error) {
	if base == nil || base.Hostname() == "" {
		return nil, errors.New("no base URL")
	}
	return webauthn.New(&webauthn.Config{
		RPID:          base.Hostname(),
		RPDisplayName: "flexidp " + base.Host,
		RPOrigins:     []string{base.Scheme + "://" + base.Host},
		// Attestation is not asked for: any authenticator the user owns
		// will do, and "none" reveals nothing about the device.
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationPreferred,
		},
	})
}

// PasskeyRequired reports whether a role of u, its own or one a group
// gives, requires a passkey (Config.PasskeyRequiredRoles).
func (s *Service) PasskeyRequired(ctx context.Context, u users.User) (bool, error) {
	return s.hasRoleIn(ctx, u, s.passkeyFor)
}

// hasRoleIn reports whether u has one of roles, its own or one a group
// gives (the roles a group gives count as the user's own for every rule
// on roles). The groups are read only when the user's own roles do not
// decide.
func (s *Service) hasRoleIn(ctx context.Context, u users.User, roles []string) (bool, error) {
	in := func(have []string) bool {
		return slices.ContainsFunc(have, func(r string) bool { return slices.Contains(roles, r) })
	}
	if len(roles) == 0 || in(u.Roles) {
		return len(roles) > 0, nil
	}
	gs, err := s.GroupsOf(ctx, u)
	if err != nil {
		return false, err
	}
	return roleIn(u, gs, roles), nil
}

// roleIn is hasRoleIn given u's groups.
func roleIn(u users.User, groups []users.Group, roles []string) bool {
	in := func(have []string) bool {
		return slices.ContainsFunc(have, func(r string) bool { return slices.Contains(roles, r) })
	}
	if len(roles) == 0 || in(u.Roles) {
		return len(roles) > 0
	}
	p, _ := users.Effective(u, groups) // roles are merged even when other attributes conflict
	return in(p.User.Roles)
}

// PasskeysAvailable reports whether the server can use passkeys (its
// base URL names a host).
func (s *Service) PasskeysAvailable() bool { return s.rp != nil }

// Factors are the second factors that may prove a sign-in of a user.
type Factors struct {
	// Code: a TOTP code or a recovery code is accepted (the user has a
	// confirmed TOTP factor, and no role of theirs requires a passkey).
	Code bool
	// Passkeys is how many passkeys the user has.
	Passkeys int
	// PasskeyRequired: a role of the user requires a passkey.
	PasskeyRequired bool
}

// FactorsFor returns the second factors u may sign in with.
func (s *Service) FactorsFor(ctx context.Context, u users.User) (Factors, error) {
	_, totp, err := s.ConfirmedFactor(ctx, u.ID)
	if err != nil {
		return Factors{}, err
	}
	list, err := s.st.ListPasskeys(ctx, u.ID)
	if err != nil {
		return Factors{}, fmt.Errorf("list passkeys: %w", err)
	}
	required, err := s.PasskeyRequired(ctx, u)
	if err != nil {
		return Factors{}, err
	}
	f := Factors{Passkeys: len(list), PasskeyRequired: required}
	f.Code = totp && !f.PasskeyRequired
	return f, nil
}

// factors is FactorsFor from the facts read with u.
func (s *Service) factors(u users.User, facts *store.SignInFacts) Factors {
	totp := facts.MFA != nil && !facts.MFA.ConfirmedAt.IsZero() // ConfirmedFactor's rule
	f := Factors{Passkeys: facts.Passkeys, PasskeyRequired: roleIn(u, facts.Groups, s.passkeyFor)}
	f.Code = totp && !f.PasskeyRequired
	return f
}

// Passkeys returns u's passkeys, oldest first.
func (s *Service) Passkeys(ctx context.Context, u users.User) ([]store.Passkey, error) {
	return s.st.ListPasskeys(ctx, u.ID)
}

// Ceremony is a WebAuthn ceremony begun: Options go to the browser (the
// argument of navigator.credentials.create or get, as JSON), Session is
// carried to its end, where nobody can change it (the caller seals it),
// and binds that end to one challenge.
type Ceremony struct {
	Options, Session []byte
}

// passkeyUser is u as go-webauthn sees it: the user handle is the user's
// ID (a random UUID, no personal data), the credentials its passkeys.
type passkeyUser struct {
	u     users.User
	creds []webauthn.Credential
}

func (p passkeyUser) WebAuthnID() []byte                         { return []byte(p.u.ID) }
func (p passkeyUser) WebAuthnName() string                       { return p.u.Email }
func (p passkeyUser) WebAuthnDisplayName() string                { return p.u.DisplayName() }
func (p passkeyUser) WebAuthnCredentials() []webauthn.Credential { return p.creds }

// loadPasskeyUser returns u with their passkeys.
func (s *Service) loadPasskeyUser(ctx context.Context, u users.User) (passkeyUser, []store.Passkey, error) {
	list, err := s.st.ListPasskeys(ctx, u.ID)
	if err != nil {
		return passkeyUser{}, nil, fmt.Errorf("list passkeys: %w", err)
	}
	pu := passkeyUser{u: u}
	for _, p := range list {
		c, err := credentialOf(p)
		if err != nil {
			return passkeyUser{}, nil, err
		}
		pu.creds = append(pu.creds, c)
	}
	return pu, list, nil
}

// credentialOf is the go-webauthn credential of a stored passkey.
func credentialOf(p store.Passkey) (webauthn.Credential, error) {
	id, err := base64.RawURLEncoding.DecodeString(p.ID)
	if err != nil {
		return webauthn.Credential{}, fmt.Errorf("passkey %q: bad ID: %w", p.ID, err)
	}
	c := webauthn.Credential{ID: id, PublicKey: p.PublicKey, AttestationType: p.AttestationType, AttestationFormat: p.AttestationFormat,
		Flags:         webauthn.NewCredentialFlags(protocol.AuthenticatorFlags(p.Flags)),
		Authenticator: webauthn.Authenticator{AAGUID: p.AAGUID, SignCount: uint32(p.SignCount)}}
	for _, t := range p.Transports {
		c.Transport = append(c.Transport, protocol.AuthenticatorTransport(t))
	}
	return c, nil
}

// Kinds of ceremony: a session begun for one kind never ends the other,
// so a sign-in's challenge cannot be answered with a new credential.
const (
	registration = "create"
	signIn       = "get"
)

// ceremonySession is the Session of a Ceremony: its kind and
// go-webauthn's session data.
type ceremonySession struct {
	Kind string                `json:"kind"`
	Data *webauthn.SessionData `json:"data"`
}

// ceremony encodes what a Begin function of go-webauthn returned for a
// ceremony of kind.
func ceremony(kind string, options any, session *webauthn.SessionData) (Ceremony, error) {
	o, err := json.Marshal(options)
	if err != nil {
		return Ceremony{}, err
	}
	sd, err := json.Marshal(ceremonySession{Kind: kind, Data: session})
	return Ceremony{Options: o, Session: sd}, err
}

// BeginPasskeyRegistration starts adding a passkey to u: the browser
// creates a credential for flexidp, which AddPasskey stores. The caller
// decides that u may add one (a signed-in user who typed their password
// again, or a sign-in whose password is verified and whose role requires
// a passkey). Passkeys u has already are excluded.
func (s *Service) BeginPasskeyRegistration(ctx context.Context, u users.User) (Ceremony, error) {
	if s.rp == nil {
		return Ceremony{}, ErrPasskeysUnavailable
	}
	pu, list, err := s.loadPasskeyUser(ctx, u)
	if err != nil {
		return Ceremony{}, err
	}
	if len(list) >= MaxPasskeys {
		return Ceremony{}, &Error{Code: Conflict, Message: fmt.Sprintf("You have %d passkeys, the most an account may have: remove one first.", len(list)),
			Key: "passkey.too_many", Args: []any{"count", len(list)}}
	}
	creation, session, err := s.rp.BeginRegistration(pu,
		webauthn.WithExclusions(webauthn.Credentials(pu.creds).CredentialDescriptors()))
	if err != nil {
		return Ceremony{}, fmt.Errorf("begin passkey registration: %w", err)
	}
	return ceremony(registration, creation, session)
}

// CheckPasskeyName returns name trimmed, or an Invalid error.
func CheckPasskeyName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", &Error{Code: Invalid, Message: "Give the passkey a name, such as “Work laptop”.", Key: "passkey.name_empty"}
	case utf8.RuneCountInString(name) > maxPasskeyName:
		return "", &Error{Code: Invalid, Message: fmt.Sprintf("The passkey's name is too long: at most %d characters.", maxPasskeyName),
			Key: "passkey.name_long", Args: []any{"max", maxPasskeyName}}
	case strings.IndexFunc(name, unicode.IsControl) >= 0 || !utf8.ValidString(name):
		return "", &Error{Code: Invalid, Message: "The passkey's name has characters that cannot be shown.", Key: "passkey.name_chars"}
	}
	return name, nil
}

// AddPasskey ends a registration BeginPasskeyRegistration started for u
// (session): response, the browser's answer, must verify against it (its
// one challenge, flexidp's origin and relying party ID). The challenge is
// used up first, so an answer cannot be posted twice. The passkey is
// stored under name and the change audited. It returns the passkey, or an
// Invalid error (a bad name, an answer that does not verify), a Conflict
// (the passkey is registered already), or an internal error.
func (s *Service) AddPasskey(ctx context.Context, u users.User, session, response []byte, name, address string) (store.Passkey, error) {
	if s.rp == nil {
		return store.Passkey{}, ErrPasskeysUnavailable
	}
	name, err := CheckPasskeyName(name)
	if err != nil {
		return store.Passkey{}, err
	}
	sd, err := s.useSession(ctx, u, registration, session)
	if err != nil {
		return store.Passkey{}, err
	}
	notAdded := &Error{Code: Invalid, Message: "The passkey was not added: your browser's answer could not be verified. Try again.", Key: "passkey.not_added"}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		notAdded.Err = err
		return store.Passkey{}, notAdded
	}
	pu, _, err := s.loadPasskeyUser(ctx, u)
	if err != nil {
		return store.Passkey{}, err
	}
	c, err := s.rp.CreateCredential(pu, sd, parsed)
	if err != nil {
		notAdded.Err = err
		return store.Passkey{}, notAdded
	}
	now := s.now()
	p := store.Passkey{ID: base64.RawURLEncoding.EncodeToString(c.ID), UserID: u.ID, Name: name, PublicKey: c.PublicKey,
		SignCount: int64(c.Authenticator.SignCount), AAGUID: c.Authenticator.AAGUID, Flags: int64(c.Flags.ProtocolValue()),
		AttestationType: c.AttestationType, AttestationFormat: c.AttestationFormat, CreatedAt: now, UpdatedAt: now}
	for _, t := range c.Transport {
		p.Transports = append(p.Transports, string(t))
	}
	switch err := s.st.CreatePasskey(ctx, p); {
	case errors.Is(err, store.ErrConflict):
		return store.Passkey{}, &Error{Code: Conflict, Message: "This passkey is registered already.", Key: "passkey.registered"}
	case errors.Is(err, store.ErrNotFound):
		return store.Passkey{}, errorf(NotFound, "The user no longer exists.")
	case err != nil:
		return store.Passkey{}, err
	}
	return p, s.Audit(ctx, store.AuditEvent{Action: AuditPasskeyAdded, Actor: u.Email, UserID: u.ID, Email: u.Email, RemoteAddr: address,
		Details: Details(map[string]string{"passkey": p.ID, "name": p.Name})})
}

// useSession decodes the session data of a ceremony of kind begun for u
// and uses up its challenge: of two answers to one challenge, only the
// first is checked, and a replayed answer is refused whatever it holds.
func (s *Service) useSession(ctx context.Context, u users.User, kind string, session []byte) (webauthn.SessionData, error) {
	var cs ceremonySession
	if err := json.Unmarshal(session, &cs); err != nil || cs.Data == nil || cs.Data.Challenge == "" {
		return webauthn.SessionData{}, fmt.Errorf("passkey ceremony: bad session data: %v", err) // the caller sealed it: a bug
	}
	sd := *cs.Data
	if cs.Kind != kind {
		return sd, &Error{Code: Invalid, Message: "This passkey request is not for this page. Start again.", Key: "passkey.wrong_kind",
			Err: fmt.Errorf("%w: a %q ceremony ended as %q", ErrPasskeyRefused, cs.Kind, kind)}
	}
	if !bytes.Equal(sd.UserID, []byte(u.ID)) {
		return sd, fmt.Errorf("passkey ceremony of user %q ended by %q", sd.UserID, u.ID)
	}
	err := s.st.ConsumeOnce(ctx, "webauthn:"+sd.Challenge, s.now().Add(challengeTTL))
	if errors.Is(err, store.ErrConflict) {
		return sd, &Error{Code: Invalid, Message: "This passkey request was used already. Start again.", Key: "passkey.used", Err: ErrPasskeyRefused}
	}
	return sd, err
}

// BeginPasskeySignIn starts the passkey step of u's sign-in: the browser
// signs the challenge with one of u's passkeys, which CheckPasskey checks.
// User verification (a PIN, a fingerprint) is asked for where the
// authenticator can do it.
func (s *Service) BeginPasskeySignIn(ctx context.Context, u users.User) (Ceremony, error) {
	if s.rp == nil {
		return Ceremony{}, ErrPasskeysUnavailable
	}
	pu, list, err := s.loadPasskeyUser(ctx, u)
	if err != nil {
		return Ceremony{}, err
	}
	if len(list) == 0 {
		return Ceremony{}, &Error{Code: Conflict, Message: "You have no passkey.", Key: "passkey.none"}
	}
	assertion, session, err := s.rp.BeginLogin(pu)
	if err != nil {
		return Ceremony{}, fmt.Errorf("begin passkey sign-in: %w", err)
	}
	return ceremony(signIn, assertion, session)
}

// CheckPasskey checks the passkey step of u's sign-in, begun with
// BeginPasskeySignIn (session), under the throttle of u's second factor
// (as CheckCode: a refusal counts as a wrong code). response, the
// browser's answer, must sign session's one challenge, unused until then,
// with a passkey of u, for flexidp's origin and relying party ID; its
// signature counter must move forward (clone detection: a counter that
// does not is refused and audited as AuditPasskeyCloned). The passkey's
// counter, flags and last use are stored. It returns nil, or
// *ThrottledError, ErrPasskeyRefused (wrapped in an Invalid error with the
// sentence), or an internal error.
func (s *Service) CheckPasskey(ctx context.Context, u users.User, session, response []byte, address string) error {
	if s.rp == nil {
		return ErrPasskeysUnavailable
	}
	_, err := s.secondFactorAttempt(ctx, u, address, func() (string, error) {
		return "passkey", s.verifyPasskey(ctx, u, session, response, address)
	})
	return err
}

// passkeyRefused is the error of a refused passkey assertion; why goes
// to the audit trail.
func passkeyRefused(why string, err error) error {
	return &Error{Code: Invalid, Message: "Your passkey was not accepted. Try again, or use another passkey.", Key: "passkey.refused",
		Err: fmt.Errorf("%w: %s: %v", ErrPasskeyRefused, why, err)}
}

func (s *Service) verifyPasskey(ctx context.Context, u users.User, session, response []byte, address string) error {
	sd, err := s.useSession(ctx, u, signIn, session)
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return passkeyRefused("not an assertion", err)
	}
	pu, _, err := s.loadPasskeyUser(ctx, u)
	if err != nil {
		return err
	}
	c, err := s.rp.ValidateLogin(pu, sd, parsed)
	if err != nil {
		return passkeyRefused("does not verify", err)
	}
	id := base64.RawURLEncoding.EncodeToString(c.ID)
	count := c.Authenticator.SignCount
	cloned := c.Authenticator.CloneWarning
	// The counter is compared again with the row locked: of two
	// assertions racing with one counter value, one is refused.
	_, err = s.st.UpdatePasskey(ctx, id, func(p store.Passkey) (store.Passkey, error) {
		if cloned || (count != 0 || p.SignCount != 0) && int64(count) <= p.SignCount {
			cloned = true
			return p, errClone
		}
		p.SignCount, p.Flags, p.LastUsedAt = int64(count), int64(c.Flags.ProtocolValue()), s.now()
		return p, nil
	})
	if cloned {
		_ = s.Audit(ctx, store.AuditEvent{Action: AuditPasskeyCloned, Actor: u.Email, UserID: u.ID, Email: u.Email, RemoteAddr: address,
			Reason: "signature counter did not increase", Details: Details(map[string]any{"passkey": id, "counter": count})})
		return passkeyRefused("signature counter did not increase", errClone)
	}
	if errors.Is(err, store.ErrNotFound) {
		return passkeyRefused("removed meanwhile", err)
	}
	return err
}

var errClone = errors.New("possible cloned authenticator")

// Proof is what a signed-in user gives again before a change of their
// factors: their current password, or a passkey's Answer to a sign-in
// ceremony begun for them (its Session), when Answer is set.
type Proof struct {
	Password        string
	Session, Answer []byte
}

// check checks p as ChangePassword checks a password (a wrong one counts
// as a failed sign-in), or as CheckPasskey checks a passkey (a refusal
// counts as a wrong code); what names the change in the audit trail.
func (s *Service) check(ctx context.Context, u users.User, p Proof, address, what string) error {
	if p.Answer != nil {
		return s.CheckPasskey(ctx, u, p.Session, p.Answer, address)
	}
	_, err := s.checkCurrentPassword(ctx, u, p.Password, address, what)
	return err
}

// RemovePasskey removes u's passkey id once u has proved who they are
// again (proof: the current password, or one of their passkeys): a
// stolen session alone cannot remove a factor. The last passkey of a user
// whose role requires one stays (ErrLastPasskey). The removal is a new
// credential version (a sign-in past its password starts again), and is
// audited. It returns the passkey removed, or what ChangePassword's check
// or CheckPasskey returns, a NotFound error, ErrLastPasskey, or an
// internal error.
func (s *Service) RemovePasskey(ctx context.Context, u users.User, id string, proof Proof, address string) (store.Passkey, error) {
	list, err := s.st.ListPasskeys(ctx, u.ID)
	if err != nil {
		return store.Passkey{}, err
	}
	i := slices.IndexFunc(list, func(p store.Passkey) bool { return p.ID == id })
	if i < 0 {
		return store.Passkey{}, &Error{Code: NotFound, Message: "You have no such passkey; it may have been removed already.", Key: "passkey.not_found"}
	}
	if len(list) == 1 {
		if required, err := s.PasskeyRequired(ctx, u); err != nil {
			return store.Passkey{}, err
		} else if required {
			return store.Passkey{}, ErrLastPasskey
		}
	}
	if err := s.check(ctx, u, proof, address, "passkey removal"); err != nil {
		return store.Passkey{}, err
	}
	if err := s.st.DeletePasskey(ctx, u.ID, id); err != nil {
		return store.Passkey{}, notFoundAs(err, "You have no such passkey; it may have been removed already.")
	}
	if err := s.credentialsChanged(ctx, u.ID); err != nil {
		return list[i], err
	}
	return list[i], s.Audit(ctx, store.AuditEvent{Action: AuditPasskeyRemoved, Actor: u.Email, UserID: u.ID, Email: u.Email, RemoteAddr: address,
		Reason: "self-service", Details: Details(map[string]string{"passkey": id, "name": list[i].Name})})
}

// VerifyPassword checks the current password of u, signed in, before a
// change that needs it (what names it in the audit trail), as
// ChangePassword checks it. It returns nil, or *ThrottledError,
// ErrWrongCurrentPassword, ErrDisabled, users.ErrBusy or an internal
// error.
func (s *Service) VerifyPassword(ctx context.Context, u users.User, current, address, what string) error {
	_, err := s.checkCurrentPassword(ctx, u, current, address, what)
	return err
}

// credentialsChanged starts a new credential version of the user: a
// sign-in already past its password starts again.
func (s *Service) credentialsChanged(ctx context.Context, userID string) error {
	_, err := s.st.UpdateUser(ctx, userID, func(cur users.User) (users.User, error) {
		cur.CredentialsChanged()
		return cur, nil
	})
	return notFoundAs(err, "The user no longer exists.")
}

// PasskeyStatus describes u's passkeys in a sentence, for administrators.
func (s *Service) PasskeyStatus(ctx context.Context, u users.User) string {
	list, err := s.st.ListPasskeys(ctx, u.ID)
	if err != nil {
		return "unknown: " + err.Error()
	}
	var names []string
	for _, p := range list {
		used := "never used"
		if !p.LastUsedAt.IsZero() {
			used = "last used " + p.LastUsedAt.Format(time.DateOnly)
		}
		names = append(names, fmt.Sprintf("%q (%s)", p.Name, used))
	}
	status := "none"
	if len(names) > 0 {
		status = strings.Join(names, ", ")
	}
	if required, _ := s.PasskeyRequired(ctx, u); required {
		status += "; a role requires one"
	}
	return status
}
