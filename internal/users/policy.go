package users

import (
	"fmt"
	"strings"
)

// Password policy, after NIST SP 800-63B for user-chosen passwords: a
// minimum length, no composition rules, and no password derived from the
// account itself.
const (
	// MinPasswordLength is the fewest characters (runes) a password has.
	MinPasswordLength = 8
	// MaxPasswordBytes bounds what is hashed.
	MaxPasswordBytes = 1024
)

// CheckPassword reports whether p may become the password of the user with
// that email (empty when not known yet): at least MinPasswordLength
// characters, at most MaxPasswordBytes bytes, and neither the email nor
// its local part, in any case.
func CheckPassword(p, email string) error {
	if n := len([]rune(p)); n < MinPasswordLength {
		return &ValidationError{Field: "password", Reason: fmt.Sprintf("must have at least %d characters", MinPasswordLength)}
	}
	if len(p) > MaxPasswordBytes {
		return &ValidationError{Field: "password", Reason: fmt.Sprintf("is longer than %d bytes", MaxPasswordBytes)}
	}
	if email != "" {
		local, _, _ := strings.Cut(email, "@")
		t := strings.TrimSpace(p)
		if strings.EqualFold(t, email) || strings.EqualFold(t, local) {
			return &ValidationError{Field: "password", Reason: "must not be your email address"}
		}
	}
	return nil
}
