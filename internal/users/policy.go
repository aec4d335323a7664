package users

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
)

// Password policy, after NIST SP 800-63B (rev. 3, and rev. 4 of 2025) for
// passwords a person chooses: a minimum length, a generous maximum, no
// composition rules, no password found in breaches, and none derived from
// the account itself. Every way a password is set (the CLI's users add and
// set-password, the password-link page) applies it through the account
// service (accounts.Service), which holds the policy in force.
const (
	// MinPasswordLength is the default fewest characters (runes) a
	// password has: NIST's minimum for a password used with a second
	// factor. See SECURITY.md for when to raise it.
	MinPasswordLength = 8
	// MaxMinPasswordLength bounds a configured minimum: NIST asks that
	// passwords of at least 64 characters be allowed.
	MaxMinPasswordLength = 64
	// MaxPasswordBytes bounds what is hashed.
	MaxPasswordBytes = 1024
)

// PasswordPolicy is the rule for new passwords.
type PasswordPolicy struct {
	// MinLength is the fewest characters (runes), MinPasswordLength to
	// MaxMinPasswordLength.
	MinLength int
}

// Validate reports whether p can be used.
func (p PasswordPolicy) Validate() error {
	if p.MinLength < MinPasswordLength || p.MinLength > MaxMinPasswordLength {
		return fmt.Errorf("the minimum password length must be %d to %d characters, not %d", MinPasswordLength, MaxMinPasswordLength, p.MinLength)
	}
	return nil
}

// reasonCommon is the reason given for a password in the list of common
// breached passwords.
const reasonCommon = "is in a list of commonly used passwords; choose another"

// Check reports whether pw may become the password of the user with that
// email (empty when not known yet): at least MinLength characters, at most
// MaxPasswordBytes bytes, not one of the 30,000 most common breached
// passwords (common-passwords.txt) in any case, and neither the email nor
// its local part, in any case. The error is a *ValidationError whose
// Reason completes "The password …".
func (p PasswordPolicy) Check(pw, email string) error {
	if p.MinLength == 0 {
		p.MinLength = MinPasswordLength
	}
	if n := len([]rune(pw)); n < p.MinLength {
		return &ValidationError{Field: "password", Reason: fmt.Sprintf("must have at least %d characters", p.MinLength),
			Key: "policy.too_short", Args: []any{"count", p.MinLength}}
	}
	if len(pw) > MaxPasswordBytes {
		return &ValidationError{Field: "password", Reason: fmt.Sprintf("is longer than %d bytes", MaxPasswordBytes),
			Key: "policy.too_long", Args: []any{"max", MaxPasswordBytes}}
	}
	if IsCommonPassword(pw) {
		return &ValidationError{Field: "password", Reason: reasonCommon, Key: "policy.common"}
	}
	if email != "" {
		local, _, _ := strings.Cut(email, "@")
		t := strings.TrimSpace(pw)
		if strings.EqualFold(t, email) || strings.EqualFold(t, local) {
			return &ValidationError{Field: "password", Reason: "must not be your email address", Key: "policy.email"}
		}
	}
	return nil
}

//go:embed common-passwords.txt
var commonPasswordsText string

var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 30000)
	for _, l := range strings.Split(commonPasswordsText, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			m[l] = struct{}{}
		}
	}
	return m
})

// IsCommonPassword reports whether pw, in any case, is in the list of
// common breached passwords.
func IsCommonPassword(pw string) bool {
	_, ok := commonPasswords()[strings.ToLower(pw)]
	return ok
}
