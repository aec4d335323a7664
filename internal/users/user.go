// Package users holds the flexidp user model, its validation and password
// hashing. It performs no I/O.
package users

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/attributes"
)

// User is a person who signs in to flexidp and, through it, to Flex.
type User struct {
	// ID is immutable and random; it is the persistent NameID when an SP
	// asks for one, so an email change does not create a second Flex worker.
	ID string
	// Email is unique, compared case-insensitively; its case is kept as entered.
	Email      string
	FullName   string
	GivenName  string
	FamilyName string
	ImageURL   string
	// Roles are Flex roles (admin, supervisor, agent, wfo.*).
	Roles   []string
	Team    string
	Program string
	// Attributes are the user's custom typed Flex attributes
	// (skills.intarray, channel.chat.capacity, department, ...).
	Attributes attributes.Set
	// PasswordHash is a PHC string (argon2id, or an imported bcrypt hash
	// that is upgraded on the next sign-in). Empty means no password: the
	// user cannot sign in with one. Change it with SetPasswordHash; only
	// re-hashing the same password (an upgrade) assigns it directly.
	PasswordHash string
	// Disabled users cannot sign in. Set it with Disable.
	Disabled bool
	// CredentialVersion counts the changes of the user's credentials: a
	// new password, a removed second factor, disabling. A sign-in whose
	// password was checked under another version must start again.
	CredentialVersion int64
	// ExternalID is the identifier a provisioning client (an IdP's SCIM
	// connector, an HR system) keeps for the user; "" when none.
	ExternalID string
	// ConsoleRole is what the user may do in the admin console; "" (none)
	// for almost everyone. It is separate from the Flex Roles: a Flex
	// admin is not a console user. Change it with accounts.Service.Grant.
	ConsoleRole ConsoleRole
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// SetPasswordHash gives u a new password (hash) and, since the old one
// no longer vouches for anybody, a new credential version. An upgrade of
// the same password to a stronger hash is not a new password and sets
// PasswordHash directly.
func (u *User) SetPasswordHash(hash string) {
	u.PasswordHash = hash
	u.CredentialsChanged()
}

// Disable stops u from signing in, including sign-ins already past the
// password.
func (u *User) Disable() {
	u.Disabled = true
	u.CredentialsChanged()
}

// CredentialsChanged records that a credential of u changed (a password,
// a second factor removed, the account disabled): every sign-in started
// before it must start again. Whatever changes a credential calls it,
// directly or through SetPasswordHash and Disable.
func (u *User) CredentialsChanged() { u.CredentialVersion++ }

// ValidationError reports a user field that cannot be stored.
type ValidationError struct {
	Field  string
	Reason string
	// Key, when set, names the whole sentence in the message catalog
	// (internal/i18n), with its Args (name, value pairs), so a page can
	// show it in the reader's language; Reason stays the English text
	// for the CLI and the log.
	Key  string
	Args []any
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// NormalizeEmail trims an email address and puts it in Unicode NFC, for
// storage and for look-ups (sign-in). Case is kept; uniqueness and lookups
// are case-insensitive in every store.
func NormalizeEmail(s string) string { return normalizeEmail(s) }

// ValidateEmail reports whether s is a plain email address (no display
// name, no angle brackets), normalised (NormalizeEmail), without invisible
// or control characters and without letters of mixed scripts in its local
// part or in a label of its domain (see email.go).
func ValidateEmail(s string) error {
	if s == "" {
		return &ValidationError{Field: "email", Reason: "is required"}
	}
	if len(s) > 254 {
		return &ValidationError{Field: "email", Reason: "is longer than 254 characters"}
	}
	if err := checkEmailCharacters(s); err != nil {
		return err
	}
	if s != normalizeEmail(s) {
		return &ValidationError{Field: "email", Reason: fmt.Sprintf("%+q is not normalised (spaces around it, or accents not in Unicode NFC)", s)}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || !strings.Contains(s, "@") {
		return &ValidationError{Field: "email", Reason: fmt.Sprintf("%q is not a valid email address", s)}
	}
	return nil
}

// Validate checks every field a store would persist. Roles and custom
// attributes are checked with the Flex attribute rules, so a value Flex
// would refuse is never stored.
func (u *User) Validate() error {
	if err := ValidateEmail(u.Email); err != nil {
		return err
	}
	if len(u.GivenName) > 256 || len(u.FamilyName) > 256 {
		return &ValidationError{Field: "given_name/family_name", Reason: "is longer than 256 characters"}
	}
	// Fields Flex receives are checked with the same rules as at release,
	// so a stored user never fails at sign-in.
	for _, f := range []struct{ name, v string }{
		{"full_name", u.DisplayName()}, {"full_name", u.GivenName}, {"full_name", u.FamilyName},
	} {
		if f.v == "" {
			continue
		}
		if _, err := attributes.Parse(f.name, f.v); err != nil {
			return err
		}
	}
	if u.ImageURL != "" {
		if err := validateImageURL(u.ImageURL); err != nil {
			return err
		}
	}
	if len(u.ExternalID) > 256 {
		return &ValidationError{Field: "external_id", Reason: "is longer than 256 characters"}
	}
	if err := validateFlex(u.Roles, u.Team, u.Program, u.Attributes); err != nil {
		return err
	}
	return u.ConsoleRole.Validate()
}

// validateFlex checks the Flex profile a user or a group carries (roles,
// team, program, custom attributes) with the rules Release applies, so a
// stored value never fails at sign-in. It is the one check of these
// fields: users and groups both call it.
func validateFlex(roles []string, team, program string, custom attributes.Set) error {
	for _, f := range []struct{ name, v string }{{"team", team}, {"program", program}} {
		if f.v == "" {
			continue
		}
		if _, err := attributes.Parse(f.name, f.v); err != nil {
			return err
		}
	}
	if err := attributes.ValidateRoles(roles); err != nil {
		return err
	}
	return custom.Validate()
}

// ConsoleRole is a user's permission level in the admin console. The
// zero value is no access.
type ConsoleRole string

// Console roles, from least to most powerful.
const (
	ConsoleNone    ConsoleRole = ""
	ConsoleViewer  ConsoleRole = "viewer"  // reads users and the audit log
	ConsoleManager ConsoleRole = "manager" // also administers users
	ConsoleOwner   ConsoleRole = "owner"   // everything: SPs, keys, console roles
)

// ConsoleRoles lists the roles that grant access, least powerful first.
var ConsoleRoles = []ConsoleRole{ConsoleViewer, ConsoleManager, ConsoleOwner}

// Validate reports whether r is a known console role ("" included).
func (r ConsoleRole) Validate() error {
	switch r {
	case ConsoleNone, ConsoleViewer, ConsoleManager, ConsoleOwner:
		return nil
	}
	return &ValidationError{Field: "console_role", Reason: fmt.Sprintf("%q is not a console role (viewer, manager, owner, or none)", string(r))}
}

// ParseConsoleRole reads a console role as an administrator types it:
// viewer, manager, owner, or none (or empty) for no access.
func ParseConsoleRole(s string) (ConsoleRole, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "none" {
		return ConsoleNone, nil
	}
	r := ConsoleRole(s)
	return r, r.Validate()
}

// String is the role as shown to a person: "none" for no access.
func (r ConsoleRole) String() string {
	if r == ConsoleNone {
		return "none"
	}
	return string(r)
}

func validateImageURL(s string) error {
	p, err := url.Parse(s)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return &ValidationError{Field: "image_url", Reason: fmt.Sprintf("%q is not an http(s) URL", s)}
	}
	return nil
}

// DisplayName is the full_name Flex receives: the full name, else given and
// family name, else the local part of the email.
func (u *User) DisplayName() string {
	if n := strings.TrimSpace(u.FullName); n != "" {
		return n
	}
	if n := strings.TrimSpace(strings.TrimSpace(u.GivenName) + " " + strings.TrimSpace(u.FamilyName)); n != "" {
		return n
	}
	local, _, _ := strings.Cut(u.Email, "@")
	return local
}

// Subject is the view of the user that attribute release works on.
func (u *User) Subject() attributes.Subject {
	return attributes.Subject{
		ID:       u.ID,
		Email:    u.Email,
		FullName: u.DisplayName(),
		ImageURL: u.ImageURL,
		Roles:    u.Roles,
		Team:     u.Team,
		Program:  u.Program,
		Custom:   u.Attributes,
	}
}

// ErrNoPassword is returned when a user without a password tries to sign in.
var ErrNoPassword = errors.New("users: no password set")
