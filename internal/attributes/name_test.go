package attributes_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/attributes"
)

func TestTypeString(t *testing.T) {
	want := map[attributes.Type]string{
		attributes.String: "string", attributes.Int: "int", attributes.Boolean: "boolean",
		attributes.Array: "array", attributes.StringArray: "stringarray",
		attributes.IntArray: "intarray", attributes.BooleanArray: "booleanarray",
	}
	for typ, word := range want {
		t.Run(word, func(t *testing.T) {
			if got := typ.String(); got != word {
				t.Errorf("String() = %q, want %q", got, word)
			}
			back, ok := attributes.ParseType(word)
			if !ok || back != typ {
				t.Errorf("ParseType(%q) = %v, %v", word, back, ok)
			}
		})
	}
	if _, ok := attributes.ParseType("Int"); ok {
		t.Error(`ParseType("Int") accepted an upper-case word`)
	}
	if got := attributes.Type(42).String(); got != "invalid" {
		t.Errorf("Type(42).String() = %q", got)
	}
}

func TestParseName(t *testing.T) {
	tests := []struct {
		name     string
		base     string
		typ      attributes.Type
		wantFail bool
	}{
		{"name.string", "name", attributes.String, false},
		{"skill.int", "skill", attributes.Int, false},
		{"sales.boolean", "sales", attributes.Boolean, false},
		{"tags.array", "tags", attributes.Array, false},
		{"languages.stringarray", "languages", attributes.StringArray, false},
		{"skills.intarray", "skills", attributes.IntArray, false},
		{"flags.booleanarray", "flags", attributes.BooleanArray, false},
		{"channel.chat.capacity", "channel.chat.capacity", attributes.String, false},
		{"a.b.int", "a.b", attributes.Int, false},
		{"department", "department", attributes.String, false},
		{"_x-1.y_2", "_x-1.y_2", attributes.String, false},
		{"int", "int", attributes.String, false},
		{"skill.INT", "skill.INT", attributes.String, false},
		{"channel.3.capacity", "channel.3.capacity", attributes.String, false},
		{strings.Repeat("a", 128), strings.Repeat("a", 128), attributes.String, false},

		{"", "", 0, true},
		{strings.Repeat("a", 129), "", 0, true},
		{"a..b", "", 0, true},
		{"a.", "", 0, true},
		{".a", "", 0, true},
		{".int", "", 0, true},
		{"1abc", "", 0, true},
		{"-abc", "", 0, true},
		{"a b", "", 0, true},
		{"a:b", "", 0, true},
		{"a/b", "", 0, true},
		{"é", "", 0, true},
		{"naïve", "", 0, true},
		{"a,b", "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, typ, err := attributes.ParseName(tt.name)
			if tt.wantFail {
				var e *attributes.Error
				if !errors.As(err, &e) || e.Name != tt.name {
					t.Fatalf("ParseName(%q) error = %v, want *Error naming it", tt.name, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseName(%q): %v", tt.name, err)
			}
			if base != tt.base || typ != tt.typ {
				t.Errorf("ParseName(%q) = %q, %v; want %q, %v", tt.name, base, typ, tt.base, tt.typ)
			}
		})
	}
}
