package attributes

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// Set is a set of custom typed attributes (of a user) or static attributes
// (of an SP), keyed by the full attribute name, suffix included.
type Set map[string]Value

// reserved maps the names of first-class user fields to the field, so a
// Set cannot send a second email or roles attribute.
var reserved = map[string]string{
	"email":     "email",
	"full_name": "full name",
	"roles":     "roles",
	"image_url": "image URL",
	"team":      "team",
	"program":   "program",
}

// Validate checks every name and value of s (in name order; the first
// fault is returned as an *Error). Names of first-class user fields (email,
// full_name, roles, image_url, team, program), with or without a suffix,
// are refused, and so are two names with the same base ("skills" and
// "skills.intarray"), which Flex would see as one attribute.
func (s Set) Validate() error {
	bases := make(map[string]string, len(s))
	for _, name := range s.Names() {
		base, _, err := ParseName(name)
		if err != nil {
			return err
		}
		if field, ok := reserved[base]; ok {
			return &Error{Name: name, Reason: fmt.Sprintf("reserved for the user's %s field; set it there, not as a custom attribute", field)}
		}
		if other, ok := bases[base]; ok {
			return &Error{Name: name, Reason: fmt.Sprintf("same attribute as %q for Flex, which ignores the type suffix when naming it", other)}
		}
		bases[base] = name
		if err := s[name].Validate(name); err != nil {
			return err
		}
	}
	return nil
}

// Names returns the attribute names of s, sorted.
func (s Set) Names() []string { return slices.Sorted(maps.Keys(s)) }

// MarshalJSON encodes s as a typed JSON object, {"department":"Sales",
// "sales.boolean":true,"skills.intarray":[1,2,3]}; a nil or empty Set is {}.
// An invalid Set is refused, so one is never stored.
func (s Set) MarshalJSON() ([]byte, error) {
	if len(s) == 0 {
		return []byte("{}"), nil
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(map[string]Value(s))
}

// UnmarshalJSON decodes a typed JSON object, reading each value with the
// type its name expects (ParseJSON), and validates the result: a stored
// {"skill.int":"a"} is refused. It replaces *s rather than merging into it;
// JSON null gives a nil Set.
func (s *Set) UnmarshalJSON(data []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("attributes: decode set: %w", err)
	}
	if m == nil {
		*s = nil
		return nil
	}
	out := make(Set, len(m))
	for name, raw := range m {
		v, err := ParseJSON(name, raw)
		if err != nil {
			return err
		}
		out[name] = v
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*s = out
	return nil
}

// SetOf builds a Set from name, raw value pairs, parsing each value with
// Parse; an odd trailing name is an error.
func SetOf(pairs ...string) (Set, error) {
	if len(pairs)%2 != 0 {
		return nil, fmt.Errorf("attributes.SetOf: name %q has no value", pairs[len(pairs)-1])
	}
	s := make(Set, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		v, err := Parse(pairs[i], pairs[i+1])
		if err != nil {
			return nil, err
		}
		s[pairs[i]] = v
	}
	return s, nil
}
