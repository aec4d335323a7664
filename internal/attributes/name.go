package attributes

import "strings"

// MaxNameLen is the longest attribute name accepted, suffix included.
const MaxNameLen = 128

// ParseName checks an attribute name and splits off its type suffix:
// "skills.intarray" gives ("skills", IntArray), "channel.chat.capacity"
// gives ("channel.chat.capacity", String) because "capacity" is not a type
// word. The type returned is the suffix type only; see [Parse] for the
// type the catalog expects of a name without a suffix.
//
// A name must be a valid xs:Name that Flex accepts, so it is restricted to
// ASCII: a letter or '_' first, then letters, digits, '_', '-' and '.',
// with no empty dot-separated segment.
func ParseName(name string) (base string, t Type, err error) {
	if reason := nameReason(name); reason != "" {
		return "", 0, &Error{Name: name, Reason: "invalid attribute name: " + reason}
	}
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		if st, ok := ParseType(name[i+1:]); ok {
			return name[:i], st, nil
		}
	}
	return name, String, nil
}

// hasSuffix reports whether name (already valid) carries a type suffix.
func hasSuffix(name string) bool {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 {
		return false
	}
	_, ok := ParseType(name[i+1:])
	return ok
}

func nameReason(name string) string {
	switch {
	case name == "":
		return "empty"
	case len(name) > MaxNameLen:
		return "longer than 128 characters"
	}
	c := name[0]
	if !(c == '_' || isLetter(c)) {
		return "must start with an ASCII letter or '_'"
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !(isLetter(c) || isDigit(c) || c == '_' || c == '-' || c == '.') {
			return "only ASCII letters, digits, '_', '-' and '.' are allowed"
		}
		if c == '.' && (name[i-1] == '.' || i == len(name)-1) {
			return "empty segment between dots"
		}
	}
	return ""
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
