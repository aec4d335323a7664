package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// Throttle counts the sign-in attempts of one key: an account
// ("acct:<email, lower-cased>"), a client address ("ip:<addr>") or a second
// factor ("mfa:<user ID>"). It lives in the store so that every replica
// sees the same count. The policy that reads it (back-off, lock) belongs
// to the caller.
type Throttle struct {
	Key string
	// Failures is the number of failed attempts since the record was
	// last reset.
	Failures int
	// LastFailure is when the last of them was counted.
	LastFailure time.Time
	// LockedUntil, when in the future, refuses every attempt.
	LockedUntil time.Time
	// InFlight is the number of attempts let through and not yet
	// concluded: their password or code is still being checked. They
	// are counted apart from Failures so that concurrent correct sign-ins
	// are not taken for failures, while the lock threshold still bounds
	// failures and attempts in flight together.
	InFlight int
	// LastAttempt is when the latest attempt in flight was let through.
	// Attempts in flight for much longer were lost (a replica stopped
	// mid-attempt) and the caller may forget them.
	LastAttempt time.Time
}

// Empty reports whether t holds nothing to remember: no failure, no lock
// and no attempt in flight. The store keeps no record of an empty
// Throttle, so a key at rest has none.
func (t Throttle) Empty() bool {
	return t.Failures == 0 && t.InFlight == 0 && t.LockedUntil.IsZero()
}

// AuditEvent is one entry of the audit trail. Events are never updated;
// the trail outlives the users and SPs it names.
type AuditEvent struct {
	// ID is assigned by the store, increasing in the order events are
	// appended.
	ID int64
	// Time is when it happened; the store sets it when zero.
	Time time.Time
	// Action is what happened, a dotted name: "signin.success",
	// "signin.failure", "lockout", "mfa.enrolled", "saml.response",
	// "admin.user.disable", ...
	Action string
	// Actor is who did it: the user signing in, or the administrator of a
	// CLI change ($USER or --actor).
	Actor string
	// UserID and Email name the user concerned, when known. A failed
	// sign-in records the email as typed, even if no such user exists.
	UserID string
	Email  string
	// SP is the service provider concerned, by name.
	SP string
	// RemoteAddr is the client address of a web event.
	RemoteAddr string
	// Reason says why an attempt failed, or qualifies the action.
	Reason string
	// Details is a JSON object with the rest: attribute names and
	// assertion ID of a Response, before/after of an admin change. Never
	// passwords, hashes, secrets or session tokens.
	Details json.RawMessage
}

// AuditFilter narrows ListAudit. The zero value lists everything.
type AuditFilter struct {
	// User matches events whose UserID equals it or whose Email equals it
	// case-insensitively.
	User string
	// Actor matches events whose Actor equals it, ASCII letters in any
	// case (an administrator's name, a console user's email), alike on
	// every backend.
	Actor string
	// Action matches events whose Action equals it or starts with it
	// followed by a dot ("admin" matches "admin.user.disable").
	Action string
	// Since and Until bound Time: Since <= Time < Until; zero means
	// unbounded.
	Since, Until time.Time
	// Before keeps events whose ID is lower than it: the next page of a
	// list read newest first (keyset paging); 0 means no bound.
	Before int64
	// Limit caps the result; 0 means no limit.
	Limit int
}

// MFA is a user's second factor: a TOTP secret (RFC 6238) and one-time
// recovery codes.
type MFA struct {
	UserID string
	// Secret is the TOTP secret, sealed with the MFA encryption key when
	// one is configured; the store treats it as opaque.
	Secret []byte
	// ConfirmedAt is when the user proved, with a valid code, that their
	// authenticator holds the secret; zero while enrolment is pending.
	ConfirmedAt time.Time
	// RecoveryCodes are the hex SHA-256 hashes of the unused recovery
	// codes; each is removed when used.
	RecoveryCodes []string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Passkey is one WebAuthn credential of a user, a second factor. The
// store keeps what a later assertion is checked against; the rules (who
// may add or remove one) belong to the caller.
type Passkey struct {
	// ID is the credential ID the authenticator chose, base64url without
	// padding; unique across users.
	ID     string
	UserID string
	// Name is what the user called it ("Work laptop").
	Name string
	// PublicKey is the COSE-encoded credential public key.
	PublicKey []byte
	// SignCount is the authenticator's signature counter at its last use
	// (0 for authenticators that keep none).
	SignCount int64
	// Transports are the ways the browser can reach it ("internal", "usb").
	Transports []string
	// AAGUID identifies the authenticator model.
	AAGUID []byte
	// Flags are the credential's WebAuthn flags as the authenticator last
	// reported them (backup eligibility must never change).
	Flags int64
	// AttestationType and AttestationFormat are as registered.
	AttestationType, AttestationFormat string
	CreatedAt                          time.Time
	UpdatedAt                          time.Time
	// LastUsedAt is when it last signed a sign-in; zero if never.
	LastUsedAt time.Time
}

// Token purposes.
const (
	TokenInvite = "invite" // first password of a new user
	TokenReset  = "reset"  // password reset
)

// Token is a single-use link that lets a user set their password. The link
// holds a random secret; the store holds only its hash (ID).
type Token struct {
	// ID is the hex SHA-256 of the secret in the link.
	ID        string
	UserID    string
	Purpose   string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// SameOwner wraps a passkey updater so that it cannot move the passkey to
// another user (backends use it for UpdatePasskey).
func SameOwner(update func(Passkey) (Passkey, error)) func(Passkey) (Passkey, error) {
	return func(old Passkey) (Passkey, error) {
		p, err := update(old)
		if err == nil && p.UserID != old.UserID {
			return old, fmt.Errorf("the update moved passkey %q to another user", old.ID)
		}
		return p, err
	}
}
