package attributes_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/attributes"
)

// mustParse parses or fails the test.
func mustParse(t testing.TB, name, raw string) attributes.Value {
	t.Helper()
	v, err := attributes.Parse(name, raw)
	if err != nil {
		t.Fatalf("Parse(%q, %q): %v", name, raw, err)
	}
	return v
}

// wantError checks that err is an *Error with the given fields ("" skips
// a field) and returns it.
func wantError(t *testing.T, err error, name, want, value string) *attributes.Error {
	t.Helper()
	var e *attributes.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *attributes.Error", err, err)
	}
	if e.Name != name {
		t.Errorf("Error.Name = %q, want %q", e.Name, name)
	}
	if want != "" && e.Want != want {
		t.Errorf("Error.Want = %q, want %q", e.Want, want)
	}
	if value != "" && e.Value != value {
		t.Errorf("Error.Value = %q, want %q", e.Value, value)
	}
	if e.Reason == "" && e.Want == "" {
		t.Errorf("Error %q has neither Reason nor Want", e)
	}
	return e
}

func TestParseAccepted(t *testing.T) {
	tests := []struct {
		name, raw string
		typ       attributes.Type
		wire      string
	}{
		// The examples of the Flex documentation.
		{"name.string", "Mary", attributes.String, "Mary"},
		{"skill.int", "1", attributes.Int, "1"},
		{"sales.boolean", "true", attributes.Boolean, "true"},
		{"languages.stringarray", "en,de,fr", attributes.StringArray, "en,de,fr"},
		{"skills.intarray", "1,2,3,4", attributes.IntArray, "1,2,3,4"},

		{"skill.int", " 42 ", attributes.Int, "42"},
		{"skill.int", "+7", attributes.Int, "7"},
		{"skill.int", "007", attributes.Int, "7"},
		{"skill.int", "-3", attributes.Int, "-3"},
		{"skill.int", "-0", attributes.Int, "0"},
		{"skill.int", "9223372036854775807", attributes.Int, "9223372036854775807"},
		{"skill.int", "-9223372036854775808", attributes.Int, "-9223372036854775808"},
		{"sales.boolean", "TRUE", attributes.Boolean, "true"},
		{"sales.boolean", " False", attributes.Boolean, "false"},
		{"languages.stringarray", " en , de ", attributes.StringArray, "en,de"},
		{"languages.stringarray", "", attributes.StringArray, ""},
		{"languages.stringarray", "  ", attributes.StringArray, ""},
		{"languages.stringarray", "New York,São Paulo", attributes.StringArray, "New York,São Paulo"},
		{"tags.array", "a,b", attributes.Array, "a,b"},
		{"skills.intarray", " 1, 02 ,3", attributes.IntArray, "1,2,3"},
		{"skills.intarray", "", attributes.IntArray, ""},
		{"flags.booleanarray", "true,FALSE", attributes.BooleanArray, "true,false"},
		{"department", "Sales", attributes.String, "Sales"},
		{"department", " Sales, EMEA ", attributes.String, " Sales, EMEA "},
		{"department", "", attributes.String, ""},
		{"nickname", "Zoë 😀", attributes.String, "Zoë 😀"},
		{"long", strings.Repeat("x", 1024), attributes.String, strings.Repeat("x", 1024)},
		{"long", strings.Repeat("é", 1024), attributes.String, strings.Repeat("é", 1024)},
		{"team_name_in_hierarchy", "London,Sales,VIP", attributes.String, "London,Sales,VIP"},
		{"manager", "Ann", attributes.String, "Ann"},

		// Catalog types for names without a suffix.
		{"channel.chat.capacity", "3", attributes.Int, "3"},
		{"channel.chat.capacity", "0", attributes.Int, "0"},
		{"channel.sms-2_x.capacity", " 10", attributes.Int, "10"},
		{"channel.voice.availability", "false", attributes.Boolean, "false"},
		{"channel.voice.availability", "True", attributes.Boolean, "true"},
		{"channel.chat.capacity.int", "2", attributes.Int, "2"},
		{"roles", "supervisor, agent", attributes.StringArray, "supervisor,agent"},
		{"roles", "wfo.team_leader", attributes.StringArray, "wfo.team_leader"},
		{"email", "mary@example.com", attributes.String, "mary@example.com"},
		{"email", "dev@localhost", attributes.String, "dev@localhost"},
		{"full_name", "Mary Smith", attributes.String, "Mary Smith"},
		{"image_url", "https://example.com/a.png", attributes.String, "https://example.com/a.png"},
		{"team", "Sales", attributes.String, "Sales"},
		{"email.string", "a@b.c", attributes.String, "a@b.c"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.raw, func(t *testing.T) {
			v := mustParse(t, tt.name, tt.raw)
			if v.Type != tt.typ {
				t.Errorf("Type = %v, want %v", v.Type, tt.typ)
			}
			if got := v.String(); got != tt.wire {
				t.Errorf("String() = %q, want %q", got, tt.wire)
			}
			if back := mustParse(t, tt.name, v.String()); back != v {
				t.Errorf("round trip: Parse(String()) = %#v, want %#v", back, v)
			}
			if err := v.Validate(tt.name); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestParseRefused(t *testing.T) {
	tests := []struct {
		name, raw string
		want      string // Error.Want; "" when the name is at fault
		reason    string // substring of Error.Reason
	}{
		{"skill.int", "a", "int", "not an integer"},
		{"skill.int", "1.23", "int", "not an integer"},
		{"skill.int", "", "int", "empty"},
		{"skill.int", " ", "int", "empty"},
		{"skill.int", "1e3", "int", "not an integer"},
		{"skill.int", "0x10", "int", "not an integer"},
		{"skill.int", "1_000", "int", "not an integer"},
		{"skill.int", "9223372036854775808", "int", "range"},
		{"skill.int", "-9223372036854775809", "int", "range"},
		{"sales.boolean", "yes", "boolean", "not true or false"},
		{"sales.boolean", "1", "boolean", "not true or false"},
		{"sales.boolean", "", "boolean", "not true or false"},
		{"sales.boolean", "truee", "boolean", "not true or false"},
		{"skills.intarray", "1,2,a", "intarray", "item 3"},
		{"skills.intarray", "1,,2", "intarray", "item 2"},
		{"skills.intarray", "1,2,", "intarray", "item 3"},
		{"skills.intarray", "1.5", "intarray", "not an integer"},
		{"flags.booleanarray", "true,no", "booleanarray", "item 2"},
		{"languages.stringarray", "en,,fr", "stringarray", "empty item"},
		{"languages.stringarray", "en, ", "stringarray", "empty item"},
		{"languages.stringarray", ",en", "stringarray", "empty item"},
		{"department", "a\x00b", "string", "control"},
		{"department", "line\nbreak", "string", "control"},
		{"department", "tab\there", "string", "control"},
		{"department", "\u0085", "string", "control"},
		{"department", "\uffff", "string", "XML"},
		{"department", "\xff", "string", "UTF-8"},
		{"department", strings.Repeat("x", 1025), "string", "longer than 1024"},
		{"languages.stringarray", strings.Repeat("ab,", 400) + "ab", "stringarray", "longer than 1024"},

		{"channel.chat.capacity", "-1", "int >= 0", "negative"},
		{"channel.chat.capacity", "a", "int >= 0", "not an integer"},
		{"channel.chat.capacity", "1.5", "int >= 0", "not an integer"},
		{"channel.voice.availability", "maybe", "boolean", "not true or false"},
		{"email", "", "email address", "empty"},
		{"email", "mary", "email address", "local@domain"},
		{"email", "a@b@c", "email address", "local@domain"},
		{"email", "Mary <m@x.org>", "email address", "space"},
		{"email", "m@x..org", "email address", "domain"},
		{"full_name", "", "non-empty string", "empty"},
		{"full_name", "   ", "non-empty string", "empty"},
		{"team", "", "non-empty string", "empty"},
		{"roles", "", "", "without a role"},
		{"roles", "superviser", "", "not a Flex role"},
		{"roles", "agent,agent", "", "listed twice"},
		{"image_url", "ftp://x/a.png", "http(s) URL", "http"},
		{"image_url", "/avatar.png", "http(s) URL", "http"},
		{"image_url", "https://x/a b.png", "http(s) URL", "http"},

		// Names at fault.
		{"a..b", "x", "", "invalid attribute name"},
		{"channel.Chat.capacity", "3", "", "task channel"},
		{"channel.a.b.capacity", "3", "", "task channel"},
		{"channel.chat.capacity.string", "3", "", "conflicts"},
		{"email.int", "3", "", "conflicts"},
	}
	for _, tt := range tests {
		raw := tt.raw
		if len(raw) > 20 {
			raw = raw[:20] + "..."
		}
		t.Run(tt.name+"="+raw, func(t *testing.T) {
			v, err := attributes.Parse(tt.name, tt.raw)
			if err == nil {
				t.Fatalf("Parse(%q, %q) = %q, want an error", tt.name, tt.raw, v)
			}
			if v != (attributes.Value{}) {
				t.Errorf("Parse returned a non-zero Value %#v with its error", v)
			}
			e := wantError(t, err, tt.name, tt.want, "")
			if tt.want != "" && e.Value != tt.raw {
				t.Errorf("Error.Value = %q, want the raw value %q", e.Value, tt.raw)
			}
			if !strings.Contains(e.Reason, tt.reason) {
				t.Errorf("Error.Reason = %q, want it to contain %q", e.Reason, tt.reason)
			}
			if !strings.Contains(err.Error(), `"`+tt.name+`"`) {
				t.Errorf("Error() = %q does not name the attribute", err)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"skill.int", "1.23", `attribute "skill.int": want int, got "1.23" (not an integer)`},
		{"skill.int", "a", `attribute "skill.int": want int, got "a" (not an integer)`},
		{"roles", "superviser", `attribute "roles": role "superviser" is not a Flex role; did you mean "supervisor"?`},
		{"a..b", "", `attribute "a..b": invalid attribute name: empty segment between dots`},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.raw, func(t *testing.T) {
			_, err := attributes.Parse(tt.name, tt.raw)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v\nwant    %s", err, tt.want)
			}
		})
	}
	long := &attributes.Error{Name: "x", Want: "string", Value: strings.Repeat("v", 500)}
	if n := len(long.Error()); n > 200 {
		t.Errorf("message of a long value is %d bytes; it should be shortened", n)
	}
}

func TestValueValidate(t *testing.T) {
	str, err := attributes.NewString("1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc  string
		name  string
		v     attributes.Value
		valid bool
	}{
		{"int for int", "skill.int", attributes.NewInt(5), true},
		{"string for int", "skill.int", str, false},
		{"int for string", "department", attributes.NewInt(5), false},
		{"zero Int", "skill.int", attributes.Value{Type: attributes.Int}, false},
		{"zero String", "department", attributes.Value{}, true},
		{"zero String for email", "email", attributes.Value{}, false},
		{"negative capacity", "channel.chat.capacity", attributes.NewInt(-1), false},
		{"bool availability", "channel.chat.availability", attributes.NewBool(true), true},
		{"empty int array", "skills.intarray", attributes.NewIntArray(), true},
		{"stringarray for array", "tags.array", mustParse(t, "x.stringarray", "a"), false},
		{"bad type", "department", attributes.Value{Type: 99}, false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			err := tt.v.Validate(tt.name)
			if tt.valid && err != nil {
				t.Errorf("Validate(%q): %v", tt.name, err)
			}
			if !tt.valid {
				wantError(t, err, tt.name, "", "")
			}
		})
	}
}

func TestConstructors(t *testing.T) {
	tests := []struct {
		desc string
		name string
		v    attributes.Value
		wire string
	}{
		{"NewInt", "skill.int", attributes.NewInt(-12), "-12"},
		{"NewBool", "sales.boolean", attributes.NewBool(false), "false"},
		{"NewIntArray", "skills.intarray", attributes.NewIntArray(1, 2, 3, 4), "1,2,3,4"},
		{"NewIntArray empty", "skills.intarray", attributes.NewIntArray(), ""},
		{"NewBoolArray", "flags.booleanarray", attributes.NewBoolArray(true, false), "true,false"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := tt.v.String(); got != tt.wire {
				t.Errorf("String() = %q, want %q", got, tt.wire)
			}
			if back := mustParse(t, tt.name, tt.wire); back != tt.v {
				t.Errorf("Parse(%q) = %#v, want %#v", tt.wire, back, tt.v)
			}
		})
	}

	t.Run("NewStringArray", func(t *testing.T) {
		v, err := attributes.NewStringArray(attributes.StringArray, "en", " de ", "fr")
		if err != nil {
			t.Fatal(err)
		}
		if v != mustParse(t, "languages.stringarray", "en,de,fr") {
			t.Errorf("NewStringArray = %#v", v)
		}
		if got := v.Items(); strings.Join(got, "|") != "en|de|fr" {
			t.Errorf("Items() = %q", got)
		}
	})
	for _, items := range [][]string{{"a,b"}, {""}, {"a", " "}, {"a\nb"}} {
		t.Run("NewStringArray refuses "+strings.Join(items, "|"), func(t *testing.T) {
			if v, err := attributes.NewStringArray(attributes.Array, items...); err == nil {
				t.Errorf("NewStringArray(%q) = %q, want an error", items, v)
			}
		})
	}
	t.Run("NewStringArray wrong type", func(t *testing.T) {
		if _, err := attributes.NewStringArray(attributes.IntArray, "1"); err == nil {
			t.Error("accepted IntArray")
		}
	})
	t.Run("NewString", func(t *testing.T) {
		if _, err := attributes.NewString("a\x00"); err == nil {
			t.Error("accepted NUL")
		}
		v, err := attributes.NewString("a,b")
		if err != nil || v.String() != "a,b" || v.Type != attributes.String {
			t.Errorf("NewString(a,b) = %#v, %v", v, err)
		}
	})
}

func TestAccessors(t *testing.T) {
	if n, ok := attributes.NewInt(3).Int(); !ok || n != 3 {
		t.Errorf("Int() = %d, %v", n, ok)
	}
	if _, ok := attributes.NewBool(true).Int(); ok {
		t.Error("Int() of a Boolean is ok")
	}
	if b, ok := mustParse(t, "x.boolean", "TRUE").Bool(); !ok || !b {
		t.Errorf("Bool() = %v, %v", b, ok)
	}
	if _, ok := attributes.NewInt(1).Bool(); ok {
		t.Error("Bool() of an Int is ok")
	}
	if items := attributes.NewIntArray().Items(); items != nil {
		t.Errorf("Items() of the empty array = %q, want nil", items)
	}
	if items := mustParse(t, "x", "a,b").Items(); len(items) != 1 || items[0] != "a,b" {
		t.Errorf("Items() of a string = %q, want the one string", items)
	}
}
