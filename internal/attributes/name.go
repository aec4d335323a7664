package attributes

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

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

// typeLike maps type words of other systems to the Flex type meant.
var typeLike = map[string]string{
	"integer": "int", "long": "int", "number": "int", "num": "int",
	"bool": "boolean", "str": "string", "text": "string",
	"list": "stringarray", "strings": "stringarray", "ints": "intarray", "integers": "intarray",
	"bools": "booleanarray", "booleans": "booleanarray",
	"float": "string", "double": "string", "decimal": "string", "real": "string",
}

// lacking counts the letters of the type word w (a to z) that letters,
// the letter counts of a word, does not have: as many as w holds.
func lacking(letters [26]int32, w string) int {
	n := 0
	for i := 0; i < len(w); i++ {
		if c := w[i] - 'a'; letters[c] > 0 {
			letters[c]--
		} else {
			n++
		}
	}
	return n
}

// checkSuffix refuses a name whose last segment looks like a type suffix
// but is none of the seven Flex types (skills.ints, cost.float): Flex would
// take the whole name as a string attribute, which is not what was meant.
// A segment that only resembles a type (channel.chat.capacity, user.id)
// is part of the name. To keep such a segment anyway, end the name with
// .string (foo.float.string).
func checkSuffix(name string) *Error {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 {
		return nil
	}
	word := name[i+1:]
	if _, ok := ParseType(word); ok {
		return nil
	}
	lower := strings.ToLower(word)
	suggestion, known := typeLike[lower]
	if !known {
		if _, ok := ParseType(lower); ok {
			suggestion, known = lower, true // Flex type words are lower case
		}
	}
	if !known && len(word) >= 3 {
		runes := utf8.RuneCountInString(lower)
		var letters [26]int32 // of lower, a to z
		for i := 0; i < len(lower); i++ {
			if c := lower[i]; 'a' <= c && c <= 'z' {
				letters[c-'a']++
			}
		}
		for _, w := range typeWords {
			limit := 1
			if len(w) >= 6 {
				limit = 2
			}
			// Two cheap lower bounds of the distance skip most words: the
			// difference in length, and the letters of w that lower lacks
			// (an edit adds at most one of them).
			if runes-len(w) > limit || len(w)-runes > limit || lacking(letters, w) > limit {
				continue
			}
			if d := distance(lower, w); d <= limit && (!known || d < distance(lower, suggestion)) {
				suggestion, known = w, true
			}
		}
	}
	if !known {
		return nil
	}
	e := &Error{Name: name, Reason: fmt.Sprintf("%q is not a Flex type suffix (the types are %s; Flex has no decimal type: use int or string)",
		word, strings.Join(typeWords[:], ", "))}
	e.Suggestion = name[:i+1] + suggestion
	return e
}
