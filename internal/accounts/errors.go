package accounts

import (
	"errors"
	"fmt"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// Code classifies an Error, so each adapter can map it to what it shows
// (an HTTP status, an exit code, a SCIM scimType) in one place.
type Code string

// Error codes.
const (
	// Invalid: the input breaks a rule (a bad email, a weak password).
	Invalid Code = "invalid"
	// NotFound: the user, SP, key, session or link does not exist.
	NotFound Code = "not_found"
	// Conflict: the change collides with the current state (email taken,
	// already has a password, the active key).
	Conflict Code = "conflict"
	// Unavailable: a dependency needed for the change is missing or down
	// (no mailer configured, SMTP refused).
	Unavailable Code = "unavailable"
	// Unauthorized: the caller's credential (an API token) is missing or
	// not valid.
	Unauthorized Code = "unauthorized"
	// Forbidden: the caller is known but may not do this (a token without
	// the scope).
	Forbidden Code = "forbidden"
)

// Error is a failure a person can act on: Message is a sentence for them.
// Anything that is not an *Error is an internal failure, whose detail
// belongs in the log only.
//
// Key, when set, names the same sentence in the message catalog
// (internal/i18n) with its Args (name, value pairs): the pages show it in
// the reader's language. Errors an agent can meet on a public page have
// one (ErrWrongCurrentPassword, ErrNoTwoStep, ErrLinkUsed, a malformed
// email on the forgot-password page, a password changed meanwhile); the
// CLI, the console and the log read Message, in English.
type Error struct {
	Code    Code
	Message string
	// Field is the input at fault ("email", "roles", an attribute's
	// name), when one is: a form shows Message next to it (FieldOf).
	Field string
	Key   string
	Args  []any
	// Err is the underlying cause, for the log; may be nil.
	Err error
}

func (e *Error) Error() string { return e.Message }

func (e *Error) Unwrap() error { return e.Err }

func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the Code of err, or "" when err is not an *Error
// (an internal failure).
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var ve *users.ValidationError
	if errors.As(err, &ve) {
		return Invalid
	}
	return ""
}

// invalid wraps a domain validation error as Invalid, keeping its text.
func invalid(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Code: Invalid, Message: err.Error(), Err: err}
}

// notFoundAs turns store.ErrNotFound into a NotFound error with msg.
func notFoundAs(err error, msg string) error {
	if errors.Is(err, store.ErrNotFound) {
		return &Error{Code: NotFound, Message: msg, Err: err}
	}
	return err
}
