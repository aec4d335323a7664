package scim

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

var alice = map[string]any{
	"schemas": []any{SchemaUser}, "id": "u1", "externalId": "00uAbc", "userName": "Alice@Example.com", "displayName": "Alice Smith",
	"active":       true,
	"name":         map[string]any{"givenName": "Alice", "familyName": "Smith"},
	"emails":       []any{map[string]any{"value": "alice@example.com", "type": "work", "primary": true}},
	"meta":         map[string]any{"lastModified": "2026-05-04T09:00:00Z"},
	SchemaFlexUser: map[string]any{"team": "Sales-ES", "roles": []any{"agent", "supervisor"}},
}

// TestFilterMatches: the operators and logic of RFC 7644 3.4.2.2 on the
// attributes connectors filter on, case-insensitive where RFC 7643 says so.
func TestFilterMatches(t *testing.T) {
	for _, c := range []struct {
		filter string
		want   bool
	}{
		{`userName eq "alice@example.com"`, true},
		{`USERNAME Eq "ALICE@EXAMPLE.COM"`, true},
		{`userName eq "bob@example.com"`, false},
		{`userName sw "ali"`, true},
		{`userName ew ".com"`, true},
		{`userName co "@exa"`, true},
		{`externalId eq "00uAbc"`, true},
		{`externalId eq "00uabc"`, false}, // caseExact
		{`emails eq "alice@example.com"`, true},
		{`emails.value co "alice"`, true},
		{`emails[type eq "work" and value co "alice"]`, true},
		{`emails[type eq "home"]`, false},
		{`displayName eq "Alice Smith" and active eq true`, true},
		{`displayName eq "Bob" or active eq true`, true},
		{`active eq false`, false},
		{`not (active eq false)`, true},
		{`title pr`, false},
		{`name.familyName pr`, true},
		{`meta.lastModified gt "2026-01-01T00:00:00Z"`, true},
		{`meta.lastModified lt "2026-01-01T00:00:00Z"`, false},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "alice@example.com"`, true},
		{`urn:flexidp:params:scim:schemas:extension:flex:2.0:User:team eq "sales-es"`, true},
		{`urn:flexidp:params:scim:schemas:extension:flex:2.0:User:roles eq "supervisor"`, true},
		{`(userName eq "x" or userName eq "alice@example.com") and (active eq true)`, true},
		{`externalId eq null`, false},
	} {
		e, err := parseFilter(c.filter, nil)
		if err != nil {
			t.Errorf("%s: %v", c.filter, err)
			continue
		}
		if got := match(e, alice, SchemaUser); got != c.want {
			t.Errorf("%s = %v, want %v", c.filter, got, c.want)
		}
	}
}

// TestHostileFilters: filters that are malformed, huge, deeply nested or
// name attributes that do not exist are refused with a sentence (a SCIM
// 400 invalidFilter), never a panic.
func TestHostileFilters(t *testing.T) {
	for _, c := range []struct{ name, filter, says string }{
		{"empty", ``, "ends where"},
		{"unknown attribute", `title eq "x"`, "not an attribute"},
		{"unknown sub-attribute", `name.nickName eq "x"`, "not an attribute"},
		{"unknown extension", `urn:evil:Thing:x eq "1"`, "not an attribute"},
		{"no operator", `userName "x"`, "expected an operator"},
		{"bad operator", `userName like "x"`, "expected an operator"},
		{"no value", `userName eq`, "expected a value"},
		{"unquoted value", `userName eq alice`, "expected a value"},
		{"open string", `userName eq "alice`, "not closed"},
		{"bad escape", `userName eq "\x"`, "not a valid JSON string"},
		{"unbalanced", `(userName eq "a"`, "expected ')'"},
		{"extra", `userName eq "a")`, "unexpected"},
		{"bracket", `emails[type eq "work"`, "expected ']'"},
		{"huge", `userName eq "` + strings.Repeat("a", MaxFilterLength) + `"`, "at most"},
		{"deep", strings.Repeat("(", 50) + `userName eq "a"` + strings.Repeat(")", 50), "deeper than"},
		{"deep not", strings.Repeat("not (", 20) + `active eq true` + strings.Repeat(")", 20), "deeper than"},
		{"many terms", strings.TrimSuffix(strings.Repeat(`userName eq "a" or `, 70), " or "), "more than"},
		{"control", "userName eq \"a\"\x00", "unexpected character"},
		{"invalid utf8", "userName eq \"\xff\"", "UTF-8"},
		{"huge number", `meta.version eq 1e999`, "not a number"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseFilter(c.filter, knownUserAttr)
			var fe *filterError
			if !errors.As(err, &fe) || !strings.Contains(fe.msg, c.says) {
				t.Fatalf("parseFilter(%.60q) = %v, want a filter error saying %q", c.filter, err, c.says)
			}
		})
	}
}

// FuzzFilter: no input makes the parser or the matcher panic, and every
// refusal is a filterError (a 400), never another error.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{`userName eq "a"`, `emails[type eq "work" and value co "@"]`, `not (active eq true) or x pr`,
		`meta.lastModified gt "2011-05-13T04:42:34Z"`, `((((a eq 1))))`, `urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`,
		`members[value eq "2819c223"]`, `a eq "\u00e9\""`, `name.familyName co "O'Malley"`} {
		f.Add(s)
	}
	doc, _ := json.Marshal(alice)
	f.Fuzz(func(t *testing.T, s string) {
		for _, known := range []func(attrPath) bool{nil, knownUserAttr} {
			e, err := parseFilter(s, known)
			if err != nil {
				var fe *filterError
				if !errors.As(err, &fe) {
					t.Fatalf("parseFilter(%q) = %T %v, want a filterError", s, err, err)
				}
				continue
			}
			var m map[string]any
			_ = json.Unmarshal(doc, &m)
			match(e, m, SchemaUser)
		}
		if _, err := parsePatchPath(s, knownUserAttr); err != nil {
			var fe *filterError
			if !errors.As(err, &fe) {
				t.Fatalf("parsePatchPath(%q) = %T %v, want a filterError", s, err, err)
			}
		}
	})
}
