package users

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/flexidp/flexidp/internal/attributes"
)

// SourceUser is the Source of a value the user holds themself.
const SourceUser = "user"

// GroupSource is the Source of a value a group gives: "group Sales-ES".
func GroupSource(name string) string { return "group " + name }

// Profile is a user's effective Flex profile: what release works on once
// the user's groups are taken into account (Effective).
type Profile struct {
	// User is the user with the effective Roles, Team, Program and
	// Attributes; every other field is the user's own.
	User User
	// Sources says where each value came from, by attribute base name
	// ("roles", "team", "skills", "channel.chat.capacity"): SourceUser
	// and/or GroupSource(name), the user first, then groups by name.
	Sources map[string][]string
	// RoleSources says where each effective role came from.
	RoleSources map[string][]string
	// Groups are the names of the user's groups, sorted.
	Groups []string
}

// Source returns where the attribute name (with or without its type
// suffix) came from, as one string ("user", "group Sales-ES, group
// Support"), or "" when the profile does not hold it.
func (p Profile) Source(name string) string {
	base, _, err := attributes.ParseName(name)
	if err != nil {
		return ""
	}
	return strings.Join(p.Sources[base], ", ")
}

// Conflict is a single-valued attribute to which two groups give
// different values and the user gives none.
type Conflict struct {
	// Attribute is the attribute name ("team", "channel.chat.capacity").
	Attribute string
	// Groups and Values are parallel: Values[i] is Groups[i]'s value.
	Groups []string
	Values []string
}

// ConflictError reports the conflicts of a user's groups: release never
// picks one of two values silently, so the user cannot sign in until the
// groups agree or the user holds a value of their own.
type ConflictError struct {
	// Email is the user's email.
	Email     string
	Conflicts []Conflict
}

func (e *ConflictError) Error() string {
	parts := make([]string, len(e.Conflicts))
	for i, c := range e.Conflicts {
		vals := make([]string, len(c.Groups))
		for j := range c.Groups {
			vals[j] = fmt.Sprintf("%q from group %s", c.Values[j], c.Groups[j])
		}
		parts[i] = fmt.Sprintf("%s (%s)", c.Attribute, strings.Join(vals, ", "))
	}
	return fmt.Sprintf("%s would receive conflicting values of %s; make the groups agree, or give %s a value of their own.",
		e.Email, strings.Join(parts, "; "), e.Email)
}

// Effective works out u's effective profile as a member of groups. It is
// the one place the precedence is applied; sign-in, previews, the account
// page and every write that changes a user's groups call it.
//
// The precedence:
//   - roles: the union of the user's roles and every group's roles (the
//     user's first, then the groups' by group name, each role once);
//   - every other attribute (team, program, custom attributes, compared by
//     base name: skills and skills.stringarray are one attribute): the
//     user's own value wins over any group's, even an empty array;
//   - without a value of the user's, a multi-valued attribute (an array
//     type, such as skills.stringarray or routing lists) given by several
//     groups is the union of their items, in group-name order, each item
//     once; the groups must agree on its type;
//   - without a value of the user's, a single-valued attribute (team,
//     program, capacities, Insights fields, any scalar) takes the groups'
//     value when they agree; two different values are a Conflict, and the
//     attribute is left out of the profile.
//
// The error is a *ConflictError when there are conflicts, or the
// validation error of the merged profile (Validate's rules: a union that
// grows beyond attributes.MaxValueLen, say); in both cases the Profile
// returned holds what could be merged.
func Effective(u User, groups []Group) (Profile, error) {
	gs := slices.Clone(groups)
	slices.SortFunc(gs, func(a, b Group) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	p := Profile{User: u, Sources: map[string][]string{}, RoleSources: map[string][]string{}}
	for _, g := range gs {
		p.Groups = append(p.Groups, g.Name)
	}

	// Roles: the union.
	var roles []string
	addRole := func(r, src string) {
		if !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
		if !slices.Contains(p.RoleSources[r], src) {
			p.RoleSources[r] = append(p.RoleSources[r], src)
		}
		if !slices.Contains(p.Sources["roles"], src) {
			p.Sources["roles"] = append(p.Sources["roles"], src)
		}
	}
	for _, r := range u.Roles {
		addRole(r, SourceUser)
	}
	for _, g := range gs {
		for _, r := range g.Roles {
			addRole(r, GroupSource(g.Name))
		}
	}
	p.User.Roles = roles

	// Everything else, as one list of (name, value) per source.
	type given struct {
		group string
		name  string
		value attributes.Value
	}
	byBase := map[string][]given{}
	var order []string
	offer := func(group, name string, v attributes.Value) {
		base, _, err := attributes.ParseName(name)
		if err != nil {
			base = name // Validate reports it below
		}
		if _, ok := byBase[base]; !ok {
			order = append(order, base)
		}
		byBase[base] = append(byBase[base], given{group, name, v})
	}
	var invalid error
	own := map[string]bool{}
	for _, f := range []struct{ name, v string }{{"team", u.Team}, {"program", u.Program}} {
		if f.v != "" {
			own[f.name] = true
			p.Sources[f.name] = []string{SourceUser}
		}
	}
	for name := range u.Attributes {
		base, _, err := attributes.ParseName(name)
		if err != nil {
			base = name
		}
		own[base] = true
		p.Sources[base] = []string{SourceUser}
	}
	for _, g := range gs {
		for _, f := range []struct{ name, v string }{{"team", g.Team}, {"program", g.Program}} {
			if f.v == "" || own[f.name] {
				continue
			}
			v, err := attributes.Parse(f.name, f.v)
			if err != nil {
				invalid = cmp.Or(invalid, err)
				continue
			}
			offer(g.Name, f.name, v)
		}
		for _, name := range g.Attributes.Names() {
			if base, _, err := attributes.ParseName(name); err != nil || !own[base] {
				offer(g.Name, name, g.Attributes[name])
			}
		}
	}

	var conflicts []Conflict
	var merged attributes.Set
	for _, base := range order {
		gv := byBase[base]
		c := Conflict{Attribute: gv[0].name}
		agree := true
		for _, x := range gv {
			c.Groups = append(c.Groups, x.group)
			c.Values = append(c.Values, x.value.String())
			if x.name != gv[0].name || x.value.Type != gv[0].value.Type {
				agree = false // skills.intarray against skills.stringarray
			} else if !x.value.Type.IsArray() && x.value != gv[0].value {
				agree = false
			}
		}
		if !agree {
			if gv[0].name != base {
				c.Attribute = base
			}
			conflicts = append(conflicts, c)
			continue
		}
		v := gv[0].value
		if v.Type.IsArray() {
			var items []string
			for _, x := range gv {
				for _, it := range x.value.Items() {
					if !slices.Contains(items, it) {
						items = append(items, it)
					}
				}
			}
			var err error
			if v, err = attributes.Parse(gv[0].name, strings.Join(items, ",")); err != nil {
				invalid = cmp.Or(invalid, err)
				continue
			}
		}
		for _, x := range gv {
			if src := GroupSource(x.group); !slices.Contains(p.Sources[base], src) {
				p.Sources[base] = append(p.Sources[base], src)
			}
		}
		switch base {
		case "team":
			p.User.Team = v.String()
		case "program":
			p.User.Program = v.String()
		default:
			if merged == nil {
				merged = make(attributes.Set, len(u.Attributes)+len(order))
				for n, val := range u.Attributes {
					merged[n] = val
				}
			}
			merged[gv[0].name] = v
		}
	}
	if merged != nil {
		p.User.Attributes = merged
	}
	if len(conflicts) > 0 {
		return p, &ConflictError{Email: u.Email, Conflicts: conflicts}
	}
	if invalid != nil {
		return p, invalid
	}
	return p, validateFlex(p.User.Roles, p.User.Team, p.User.Program, p.User.Attributes)
}
