package attributes

import (
	"fmt"
	"strings"
)

// Error reports an attribute name or value that Flex would refuse, or a
// release policy that cannot be applied. Parse, Validate, ValidateRoles and
// Release return it as *Error.
type Error struct {
	// Name is the attribute concerned ("skill.int", "roles"); empty for a
	// policy setting that is not about one attribute.
	Name string
	// Want is the expected type word ("int") or rule; empty when the name
	// itself is at fault.
	Want string
	// Value is the offending raw value (or role, or pattern).
	Value string
	// Reason says what is wrong, in a few words.
	Reason string
	// Suggestion is the nearest valid value, when there is one (roles).
	Suggestion string
	// Err is an underlying sentinel such as ErrNoRole, for errors.Is.
	Err error
}

// wantRole marks an Error about one role; it reads "role X is <Reason>".
const wantRole = "role"

// maxShown keeps messages readable when a value is long.
const maxShown = 80

// Error reads like: attribute "skill.int": want int, got "1.23" (not an
// integer). Long values are shortened.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Name != "" {
		fmt.Fprintf(&b, "attribute %q: ", e.Name)
	}
	shown := e.Value
	if r := []rune(shown); len(r) > maxShown {
		shown = string(r[:maxShown]) + "…"
	}
	switch {
	case e.Want == wantRole:
		fmt.Fprintf(&b, "role %q is %s", shown, e.Reason)
	case e.Want != "":
		fmt.Fprintf(&b, "want %s, got %q", e.Want, shown)
		if e.Reason != "" {
			fmt.Fprintf(&b, " (%s)", e.Reason)
		}
	default:
		b.WriteString(e.Reason)
	}
	if e.Suggestion != "" {
		fmt.Fprintf(&b, "; did you mean %q?", e.Suggestion)
	}
	return b.String()
}

// Unwrap returns the underlying sentinel error, if any.
func (e *Error) Unwrap() error { return e.Err }
