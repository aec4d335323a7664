package attributes

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxValueLen is the longest wire form of a value, in characters. For an
// array it bounds the whole comma-separated value, not each item.
const MaxValueLen = 1024

// Value is one typed attribute value. It holds the type and the canonical
// wire form, so values compare with == and, for every valid v,
// Parse(name, v.String()) == v. The zero Value is the empty String.
//
// Build a Value with Parse, ParseJSON or the New functions; a Value made
// otherwise (Value{Type: Int}) is invalid and refused by Validate.
type Value struct {
	// Type is the Flex type of the value.
	Type Type
	raw  string // canonical wire form
}

// Parse parses raw, the Flex wire or command-line form of a value of the
// attribute name. The expected type is the suffix type of name, else the
// catalog type (channel.chat.capacity is an Int >= 0), else String; catalog
// attributes also get their own rule (contact_uri, email, roles, ...).
//
// Ints, booleans and array items may carry surrounding spaces, booleans
// any case, ints leading zeros; String returns the canonical form. A plain
// string is kept verbatim. An empty or all-space raw value of an array type
// is the empty array. A failure is an *Error naming the attribute.
func Parse(name, raw string) (Value, error) {
	r, err := expect(name)
	if err != nil {
		return Value{}, err
	}
	canon, reason := parseWire(r.typ, raw)
	if reason != "" {
		return Value{}, &Error{Name: name, Want: r.wantText(), Value: raw, Reason: reason}
	}
	return r.finish(name, raw, Value{Type: r.typ, raw: canon})
}

// String returns the exact string Flex receives: arrays comma-separated,
// booleans "true" or "false", ints in decimal without sign or leading zeros
// (except "-" for a negative number).
func (v Value) String() string { return v.raw }

// Items returns the items of an array value (nil for the empty array), or
// a one-item slice holding the wire form of a scalar value.
func (v Value) Items() []string {
	if !v.Type.IsArray() {
		return []string{v.raw}
	}
	if v.raw == "" {
		return nil
	}
	return strings.Split(v.raw, ",")
}

// Int returns the integer of an Int value; ok is false for any other type.
func (v Value) Int() (n int64, ok bool) {
	if v.Type != Int {
		return 0, false
	}
	n, err := strconv.ParseInt(v.raw, 10, 64)
	return n, err == nil
}

// Bool returns the boolean of a Boolean value; ok is false for any other
// type.
func (v Value) Bool() (b, ok bool) {
	if v.Type != Boolean || (v.raw != "true" && v.raw != "false") {
		return false, false
	}
	return v.raw == "true", true
}

// Validate checks that v is a valid value for the attribute name: of the
// type name expects, in canonical form, and passing the catalog rule.
func (v Value) Validate(name string) error {
	w, err := Parse(name, v.raw)
	if err != nil {
		return err
	}
	if w.Type != v.Type {
		return &Error{Name: name, Want: w.Type.String(), Value: v.raw, Reason: "value is of type " + v.Type.String()}
	}
	if w != v {
		return &Error{Name: name, Want: w.Type.String(), Value: v.raw, Reason: "not in canonical form"}
	}
	return nil
}

// NewString returns a String value. It fails if s contains a control
// character or is longer than MaxValueLen.
func NewString(s string) (Value, error) {
	return newValue(String, s)
}

// NewStringArray returns an array of strings of type StringArray, or of
// type Array when t is Array. Items are trimmed of surrounding spaces and
// must not be empty nor contain a comma.
func NewStringArray(t Type, items ...string) (Value, error) {
	if t != Array && t != StringArray {
		return Value{}, &Error{Want: "array or stringarray", Value: t.String(), Reason: "not a string array type"}
	}
	for i, it := range items {
		// Checked one by one: joined, "a,b" would pass as two items and ""
		// would vanish into the empty array.
		if _, reason := parseItem(String, it, true); reason != "" {
			return Value{}, &Error{Want: t.String(), Value: it, Reason: fmt.Sprintf("item %d: %s", i+1, reason)}
		}
	}
	return newValue(t, strings.Join(items, ","))
}

// NewInt returns an Int value.
func NewInt(n int64) Value { return Value{Type: Int, raw: strconv.FormatInt(n, 10)} }

// NewBool returns a Boolean value.
func NewBool(b bool) Value { return Value{Type: Boolean, raw: strconv.FormatBool(b)} }

// NewIntArray returns an IntArray value.
func NewIntArray(items ...int64) Value {
	s := make([]string, len(items))
	for i, n := range items {
		s[i] = strconv.FormatInt(n, 10)
	}
	return Value{Type: IntArray, raw: strings.Join(s, ",")}
}

// NewBoolArray returns a BooleanArray value.
func NewBoolArray(items ...bool) Value {
	s := make([]string, len(items))
	for i, b := range items {
		s[i] = strconv.FormatBool(b)
	}
	return Value{Type: BooleanArray, raw: strings.Join(s, ",")}
}

func newValue(t Type, raw string) (Value, error) {
	canon, reason := parseWire(t, raw)
	if reason != "" {
		return Value{}, &Error{Want: t.String(), Value: raw, Reason: reason}
	}
	return Value{Type: t, raw: canon}, nil
}

const reasonComma = "contains a comma, and Flex splits arrays on commas"

// parseWire returns the canonical wire form of raw as a value of type t,
// or a reason why raw is not one.
func parseWire(t Type, raw string) (canon, reason string) {
	if !t.valid() {
		return "", "unknown type"
	}
	if !t.IsArray() {
		canon, reason = parseItem(t, raw, false)
	} else if strings.TrimSpace(raw) != "" {
		items := strings.Split(raw, ",")
		for i, it := range items {
			c, r := parseItem(t.Elem(), it, true)
			if r != "" {
				return "", fmt.Sprintf("item %d: %s", i+1, r)
			}
			items[i] = c
		}
		canon = strings.Join(items, ",")
	}
	if reason == "" && utf8.RuneCountInString(canon) > MaxValueLen {
		return "", fmt.Sprintf("longer than %d characters", MaxValueLen)
	}
	return canon, reason
}

// parseItem parses one scalar of type elem (String, Int or Boolean).
func parseItem(elem Type, s string, inArray bool) (canon, reason string) {
	switch elem {
	case Int:
		t := strings.TrimSpace(s)
		if t == "" {
			return "", "empty, not an integer"
		}
		n, err := strconv.ParseInt(t, 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return "", "out of the 64-bit integer range"
		}
		if err != nil {
			return "", "not an integer"
		}
		return strconv.FormatInt(n, 10), ""
	case Boolean:
		t := strings.TrimSpace(s)
		switch {
		case strings.EqualFold(t, "true"):
			return "true", ""
		case strings.EqualFold(t, "false"):
			return "false", ""
		}
		return "", "not true or false"
	}
	if inArray {
		s = strings.TrimSpace(s)
		switch {
		case s == "":
			return "", "empty item"
		case strings.Contains(s, ","):
			return "", reasonComma
		}
	}
	return s, textReason(s)
}

// textReason reports why s cannot be carried as a SAML attribute value:
// Flex and XML need valid UTF-8 without control characters.
func textReason(s string) string {
	if !utf8.ValidString(s) {
		return "not valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "contains a control character"
		}
		if r == 0xFFFE || r == 0xFFFF {
			return "contains a character XML cannot carry"
		}
	}
	return ""
}
