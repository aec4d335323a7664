package attributes_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/flexidp/flexidp/internal/attributes"
)

// FuzzParseFormat checks that every value Parse accepts formats to a
// canonical wire form that parses back to the same Value, survives typed
// JSON, and passes Validate; and that every refusal is an *Error.
func FuzzParseFormat(f *testing.F) {
	seeds := []struct{ name, raw string }{
		{"name.string", "Mary"},
		{"skill.int", "1"},
		{"skill.int", "a"},
		{"skill.int", "1.23"},
		{"skill.int", " -007 "},
		{"skill.int", "9223372036854775808"},
		{"sales.boolean", "true"},
		{"sales.boolean", "FALSE"},
		{"languages.stringarray", "en,de,fr"},
		{"languages.stringarray", " en , ,de"},
		{"skills.intarray", "1,2,3,4"},
		{"skills.intarray", ""},
		{"flags.booleanarray", "true, False"},
		{"tags.array", "a,b"},
		{"department", "Sales, EMEA"},
		{"department", "a\x00b"},
		{"channel.chat.capacity", "3"},
		{"channel.chat.capacity", "-1"},
		{"channel.voice.availability", "false"},
		{"contact_uri", "sip:someone@somedomain.com"},
		{"contact_uri", "+14151112222"},
		{"contact_uri", "client:alice"},
		{"roles", "supervisor, agent"},
		{"roles", "superviser"},
		{"email", "mary@example.com"},
		{"image_url", "https://example.com/a.png"},
		{"a..b", "x"},
		{"x", "\xff"},
	}
	for _, s := range seeds {
		f.Add(s.name, s.raw)
	}
	f.Fuzz(func(t *testing.T, name, raw string) {
		checkRoundTrip(t, name, raw)
		for _, n := range fixedNames {
			checkRoundTrip(t, n, raw)
		}
	})
}

// fixedNames covers every type and catalog rule, so each fuzz input
// exercises all of them even when its random name is invalid.
var fixedNames = []string{
	"x", "x.string", "x.int", "x.boolean", "x.array", "x.stringarray", "x.intarray", "x.booleanarray",
	"channel.chat.capacity", "channel.voice.availability", "contact_uri", "roles", "email",
	"full_name", "image_url", "team",
}

// checkRoundTrip checks one Parse call and, on success, the round trips.
func checkRoundTrip(t *testing.T, name, raw string) {
	t.Helper()
	v, err := attributes.Parse(name, raw)
	if err != nil {
		var e *attributes.Error
		if !errors.As(err, &e) || e.Name != name {
			t.Fatalf("Parse(%q, %q) error = %v (%T), want *Error naming the attribute", name, raw, err, err)
		}
		_ = err.Error()
		return
	}
	wire := v.String()
	back, err := attributes.Parse(name, wire)
	if err != nil {
		t.Fatalf("Parse(%q, %q) ok, but its String %q is refused: %v", name, raw, wire, err)
	}
	if back != v {
		t.Fatalf("Parse(%q, String()) = %#v, want %#v", name, back, v)
	}
	if back.String() != wire {
		t.Fatalf("String is not stable: %q then %q", wire, back.String())
	}
	if err := v.Validate(name); err != nil {
		t.Fatalf("Validate(%q) of a parsed value: %v", name, err)
	}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("MarshalJSON(%#v): %v", v, err)
	}
	fromJSON, err := attributes.ParseJSON(name, data)
	if err != nil {
		t.Fatalf("ParseJSON(%q, %s): %v", name, data, err)
	}
	if fromJSON != v {
		t.Fatalf("ParseJSON(%q, %s) = %#v, want %#v", name, data, fromJSON, v)
	}
}
