package attributes_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/attributes"
)

// TestParseRefusesUnknownTypeSuffix: a name ending in something that reads
// as a type but is not a Flex one (foo.float, skills.ints) would reach Flex
// as a string attribute of that whole name; it is refused with the known
// types and the nearest one. Names whose last part only resembles nothing
// of the kind are accepted.
func TestParseRefusesUnknownTypeSuffix(t *testing.T) {
	refused := []struct{ name, raw, suggestion string }{
		{"foo.float", "abc", "foo.string"},
		{"price.double", "1.5", "price.string"},
		{"skills.ints", "1,2", "skills.intarray"},
		{"skills.integer", "1", "skills.int"},
		{"vip.bool", "true", "vip.boolean"},
		{"langs.list", "en,de", "langs.stringarray"},
		{"skills.intaray", "1,2", "skills.intarray"},
		{"vip.boolen", "true", "vip.boolean"},
		{"level.Int", "3", "level.int"},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			_, err := attributes.Parse(c.name, c.raw)
			var e *attributes.Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q, %q) = %v, want an *attributes.Error", c.name, c.raw, err)
			}
			if !strings.Contains(err.Error(), "intarray") || !strings.Contains(err.Error(), "not a Flex type suffix") {
				t.Errorf("error does not list the types: %v", err)
			}
			if e.Suggestion != c.suggestion {
				t.Errorf("suggestion = %q, want %q (%v)", e.Suggestion, c.suggestion, err)
			}
		})
	}
	for _, name := range []string{"channel.chat.capacity", "user.id", "team.name", "location.city", "foo.float.string", "department", "skills.intarray"} {
		raw := "1"
		if _, err := attributes.Parse(name, raw); err != nil {
			t.Errorf("Parse(%q) refused: %v", name, err)
		}
	}
}
