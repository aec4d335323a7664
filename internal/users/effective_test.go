package users

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/attributes"
)

func set(t *testing.T, pairs ...string) attributes.Set {
	t.Helper()
	s, err := attributes.SetOf(pairs...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestEffective: the precedence rule, case by case.
func TestEffective(t *testing.T) {
	salesES := Group{Name: "Sales-ES", Roles: []string{"agent"}, Team: "Sales-ES",
		Attributes: set(t, "skills.stringarray", "spanish,sales", "channel.chat.capacity", "3", "department", "Sales")}
	support := Group{Name: "support", Roles: []string{"agent", "wfo.team_leader"},
		Attributes: set(t, "skills.stringarray", "sales,english", "department", "Sales")}
	for _, c := range []struct {
		name      string
		user      User
		groups    []Group
		roles     []string
		team      string
		attrs     map[string]string
		sources   map[string]string
		conflicts []string
	}{
		{
			name:    "no groups",
			user:    User{Email: "a@example.com", Roles: []string{"admin"}, Team: "T"},
			roles:   []string{"admin"},
			team:    "T",
			attrs:   map[string]string{},
			sources: map[string]string{"roles": "user", "team": "user"},
		},
		{
			name:   "union of roles, group team, union of skills",
			user:   User{Email: "a@example.com", Roles: []string{"supervisor"}},
			groups: []Group{support, salesES}, // sorted by name inside
			roles:  []string{"supervisor", "agent", "wfo.team_leader"},
			team:   "Sales-ES",
			attrs: map[string]string{"skills.stringarray": "spanish,sales,english", "channel.chat.capacity": "3",
				"department": "Sales"},
			sources: map[string]string{"roles": "user, group Sales-ES, group support", "team": "group Sales-ES",
				"skills": "group Sales-ES, group support", "department": "group Sales-ES, group support"},
		},
		{
			name: "the user's own values override",
			user: User{Email: "a@example.com", Team: "Mine",
				Attributes: set(t, "skills.stringarray", "french", "channel.chat.capacity", "1")},
			groups:  []Group{salesES},
			roles:   []string{"agent"},
			team:    "Mine",
			attrs:   map[string]string{"skills.stringarray": "french", "channel.chat.capacity": "1", "department": "Sales"},
			sources: map[string]string{"team": "user", "skills": "user", "channel.chat.capacity": "user", "department": "group Sales-ES"},
		},
		{
			name: "different single values conflict",
			user: User{Email: "a@example.com"},
			groups: []Group{salesES, {Name: "Support-EN", Team: "Support-EN",
				Attributes: set(t, "channel.chat.capacity", "5", "skills.stringarray", "english")}},
			roles:     []string{"agent"},
			attrs:     map[string]string{"skills.stringarray": "spanish,sales,english", "department": "Sales"},
			sources:   map[string]string{"team": "", "channel.chat.capacity": ""},
			conflicts: []string{"team", "channel.chat.capacity"},
		},
		{
			name: "arrays of different types conflict",
			user: User{Email: "a@example.com"},
			groups: []Group{{Name: "A", Attributes: set(t, "skills.stringarray", "x")},
				{Name: "B", Attributes: set(t, "skills.intarray", "1")}},
			attrs:     map[string]string{},
			conflicts: []string{"skills"},
		},
		{
			name: "a user override removes a conflict",
			user: User{Email: "a@example.com", Team: "Mine", Attributes: set(t, "channel.chat.capacity", "2")},
			groups: []Group{salesES, {Name: "Support-EN", Team: "Support-EN",
				Attributes: set(t, "channel.chat.capacity", "5")}},
			roles: []string{"agent"},
			team:  "Mine",
			attrs: map[string]string{"skills.stringarray": "spanish,sales", "channel.chat.capacity": "2", "department": "Sales"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := Effective(c.user, c.groups)
			var ce *ConflictError
			if len(c.conflicts) > 0 {
				if !errors.As(err, &ce) {
					t.Fatalf("err = %v, want a ConflictError", err)
				}
				var got []string
				for _, x := range ce.Conflicts {
					got = append(got, x.Attribute)
				}
				slices.Sort(got)
				want := slices.Sorted(slices.Values(c.conflicts))
				if !slices.Equal(got, want) {
					t.Fatalf("conflicts = %v, want %v", got, want)
				}
			} else if err != nil {
				t.Fatalf("Effective: %v", err)
			}
			if !slices.Equal(p.User.Roles, c.roles) {
				t.Errorf("roles = %v, want %v", p.User.Roles, c.roles)
			}
			if p.User.Team != c.team {
				t.Errorf("team = %q, want %q", p.User.Team, c.team)
			}
			got := map[string]string{}
			for n, v := range p.User.Attributes {
				got[n] = v.String()
			}
			if len(got) != len(c.attrs) {
				t.Errorf("attributes = %v, want %v", got, c.attrs)
			}
			for n, v := range c.attrs {
				if got[n] != v {
					t.Errorf("attribute %s = %q, want %q", n, got[n], v)
				}
			}
			for n, want := range c.sources {
				if s := p.Source(n); s != want {
					t.Errorf("Source(%s) = %q, want %q", n, s, want)
				}
			}
		})
	}
}

// TestEffectiveConflictSentence: the refusal names the user, the
// attribute and both groups with their values.
func TestEffectiveConflictSentence(t *testing.T) {
	_, err := Effective(User{Email: "ana@example.com"}, []Group{
		{Name: "Sales-ES", Team: "Sales-ES"}, {Name: "Support", Team: "Support"}})
	want := `ana@example.com would receive conflicting values of team ("Sales-ES" from group Sales-ES, "Support" from group Support); ` +
		"make the groups agree, or give ana@example.com a value of their own."
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

// TestEffectiveUnionTooLong: a union Flex could not carry is refused
// with the attribute's own validation error, never truncated.
func TestEffectiveUnionTooLong(t *testing.T) {
	long := func(c string) string { return strings.Repeat(c, 600) }
	_, err := Effective(User{Email: "a@example.com", Roles: []string{"agent"}}, []Group{
		{Name: "A", Attributes: set(t, "skills.stringarray", long("a"))},
		{Name: "B", Attributes: set(t, "skills.stringarray", long("b"))}})
	var ae *attributes.Error
	if !errors.As(err, &ae) || ae.Name != "skills.stringarray" {
		t.Fatalf("err = %v, want an attribute error on skills.stringarray", err)
	}
}

// TestGroupValidate: a group's Flex fields use the user's rules.
func TestGroupValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		g    Group
		ok   bool
	}{
		{"minimal", Group{Name: "Sales"}, true},
		{"full", Group{Name: "Sales-ES", Roles: []string{"agent"}, Team: "Sales-ES", Attributes: set(t, "skills.stringarray", "a")}, true},
		{"no name", Group{}, false},
		{"spaces around the name", Group{Name: " Sales "}, false},
		{"control character", Group{Name: "Sa\x01les"}, false},
		{"comma", Group{Name: "Sales,ES"}, false},
		{"unknown role", Group{Name: "S", Roles: []string{"agnet"}}, false},
		{"reserved attribute", Group{Name: "S", Attributes: attributes.Set{"team": attributes.Value{}}}, false},
		{"negative capacity", Group{Name: "S", Attributes: attributes.Set{"channel.chat.capacity": attributes.NewInt(-1)}}, false},
		{"long description", Group{Name: "S", Description: strings.Repeat("x", MaxGroupDescriptionLen+1)}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.g.Validate(); (err == nil) != c.ok {
				t.Fatalf("Validate = %v, want ok %v", err, c.ok)
			}
		})
	}
}
