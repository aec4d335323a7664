package attributes

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Subject is the view of a user that attribute release works on.
type Subject struct {
	// ID is the immutable user ID, the persistent NameID.
	ID string
	// Email is the email attribute and the default NameID.
	Email string
	// FullName is the full_name attribute.
	FullName string
	// ImageURL is the image_url attribute, released when not empty.
	ImageURL string
	// Roles are the user's Flex roles; see Policy.DefaultRoles.
	Roles []string
	// Team and Program are released when not empty.
	Team, Program string
	// Custom holds the user's own typed attributes.
	Custom Set
}

// Policy says which attributes one SP receives, and how.
type Policy struct {
	// Release lists patterns (path.Match syntax: "channel.*", "department")
	// of the optional attributes released; empty releases all. A pattern
	// matches the full name or the name without its type suffix. The
	// mandatory email, full_name and roles are always released.
	Release []string `json:"release,omitempty"`
	// Withhold lists patterns never released (Pattern B: ["team","program"]).
	// Withhold wins over Release; a pattern matching a mandatory attribute
	// is refused by Validate.
	Withhold []string `json:"withhold,omitempty"`
	// Static attributes are added for every user of the SP; a user's own
	// attribute of the same name (or same name without suffix) wins.
	Static Set `json:"static,omitempty"`
	// RolesFormat is RolesSingle ("" means the same) or RolesMulti.
	RolesFormat string `json:"roles_format,omitempty"`
	// NameID is NameIDEmail ("" means the same) or NameIDPersistent.
	NameID string `json:"name_id,omitempty"`
	// DefaultRoles are released for users without a role; empty by default,
	// so such a user cannot sign in (ErrNoRole).
	DefaultRoles []string `json:"default_roles,omitempty"`
}

// Policy settings.
const (
	// RolesSingle sends the roles as one comma-separated AttributeValue
	// ("supervisor,agent"), as the Flex guides do. The default.
	RolesSingle = "single"
	// RolesMulti sends one AttributeValue per role.
	RolesMulti = "multi"
	// NameIDEmail sends the email in the emailAddress format. The default.
	NameIDEmail = "email"
	// NameIDPersistent sends the immutable user ID in the persistent format,
	// so an email change does not create a second Flex worker.
	NameIDPersistent = "persistent"
)

// NameID formats.
const (
	NameIDFormatEmail      = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	NameIDFormatPersistent = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
)

// maxPersistentID is the SAML limit on a persistent NameID.
const maxPersistentID = 256

// mandatory are the attributes Flex needs from every SP, in release order.
var mandatory = []string{"email", "full_name", "roles"}

// Attribute is one SAML Attribute: a name and its values as Flex wire
// strings.
type Attribute struct {
	Name   string
	Values []string
}

// Released is what one SP receives about one user.
type Released struct {
	// NameID is the subject's NameID value, in NameIDFormat.
	NameID, NameIDFormat string
	// Attributes are in a stable order: email, full_name, roles, then
	// image_url, team and program when released, then the rest by name.
	Attributes []Attribute
}

// ErrNoRole is returned, wrapped in an *Error, by Release when the user has
// no role and the policy has no DefaultRoles: Flex refuses such a user.
var ErrNoRole = errors.New("attributes: user has no role")

// Validate checks p: patterns well formed, no mandatory attribute
// withheld, static attributes valid and released, known RolesFormat and
// NameID, valid DefaultRoles. The error is an *Error.
func (p Policy) Validate() error {
	for _, list := range []struct {
		key  string
		pats []string
	}{{"release", p.Release}, {"withhold", p.Withhold}} {
		for _, pat := range list.pats {
			if _, err := path.Match(pat, ""); pat == "" || err != nil {
				return &Error{Want: list.key + " pattern (path.Match syntax)", Value: pat, Reason: "malformed pattern"}
			}
		}
	}
	for _, name := range mandatory {
		if pat, ok := matchAny(p.Withhold, name, name); ok {
			return &Error{Name: name, Reason: fmt.Sprintf("mandatory for Flex; withhold pattern %q cannot apply to it", pat)}
		}
	}
	if err := p.Static.Validate(); err != nil {
		return err
	}
	for _, name := range p.Static.Names() {
		if !p.releases(name) {
			return &Error{Name: name, Reason: "static attribute that this policy does not release (see release and withhold)"}
		}
	}
	switch p.RolesFormat {
	case "", RolesSingle, RolesMulti:
	default:
		return &Error{Name: "roles", Want: `roles_format "single" or "multi"`, Value: p.RolesFormat}
	}
	switch p.NameID {
	case "", NameIDEmail, NameIDPersistent:
	default:
		return &Error{Want: `name_id "email" or "persistent"`, Value: p.NameID}
	}
	return ValidateRoles(p.DefaultRoles)
}

// releases reports whether p releases the optional attribute name.
func (p Policy) releases(name string) bool {
	base, _, err := ParseName(name)
	if err != nil {
		return false
	}
	if _, ok := matchAny(p.Withhold, name, base); ok {
		return false
	}
	if len(p.Release) == 0 {
		return true
	}
	_, ok := matchAny(p.Release, name, base)
	return ok
}

func matchAny(pats []string, name, base string) (string, bool) {
	for _, pat := range pats {
		if ok, _ := path.Match(pat, name); ok {
			return pat, true
		}
		if ok, _ := path.Match(pat, base); ok {
			return pat, true
		}
	}
	return "", false
}

// Release builds the attributes one SP receives about s under p: the
// mandatory email, full_name and roles, then the optional attributes p
// releases (image_url, team, program when set, the user's custom ones and
// the SP's static ones). Empty arrays are left out, as Flex would read ""
// as one empty item. The result is validated once more as a whole
// (names, every value against its type and catalog rule, roles, no empty
// mandatory value, no attribute twice), so Release never returns what Flex
// would answer with 400 "invalid attribute format"; the error is an *Error
// naming the attribute, wrapping ErrNoRole when the user has no role.
func Release(s Subject, p Policy) (Released, error) {
	if err := p.Validate(); err != nil {
		return Released{}, err
	}
	var out Released
	switch p.NameID {
	case NameIDPersistent:
		if s.ID == "" || len(s.ID) > maxPersistentID || textReason(s.ID) != "" || strings.TrimSpace(s.ID) != s.ID {
			return Released{}, &Error{Want: "persistent NameID (user ID)", Value: s.ID, Reason: "empty, too long or not printable"}
		}
		out.NameID, out.NameIDFormat = s.ID, NameIDFormatPersistent
	default:
		out.NameID, out.NameIDFormat = s.Email, NameIDFormatEmail
	}

	roles := s.Roles
	if len(roles) == 0 {
		roles = p.DefaultRoles
	}
	if len(roles) == 0 {
		return Released{}, &Error{Name: "roles", Reason: "the user has no role and the service provider has no default roles; Flex refuses a user without a role", Err: ErrNoRole}
	}
	if err := ValidateRoles(roles); err != nil {
		return Released{}, err
	}
	rolesValues := []string{strings.Join(roles, ",")}
	if p.RolesFormat == RolesMulti {
		rolesValues = append([]string(nil), roles...)
	}

	attrs := make([]Attribute, 0, 6+len(s.Custom)+len(p.Static))
	attrs = append(attrs,
		Attribute{Name: "email", Values: []string{s.Email}},
		Attribute{Name: "full_name", Values: []string{s.FullName}},
		Attribute{Name: "roles", Values: rolesValues},
	)
	for _, f := range []struct{ name, v string }{{"image_url", s.ImageURL}, {"team", s.Team}, {"program", s.Program}} {
		if f.v != "" && p.releases(f.name) {
			attrs = append(attrs, Attribute{Name: f.name, Values: []string{f.v}})
		}
	}

	if err := s.Custom.Validate(); err != nil {
		return Released{}, err
	}
	merged := make(Set, len(s.Custom)+len(p.Static))
	own := make(map[string]bool, len(s.Custom))
	for name, v := range s.Custom {
		merged[name] = v
		own[baseOf(name)] = true
	}
	for name, v := range p.Static {
		if !own[baseOf(name)] {
			merged[name] = v
		}
	}
	for _, name := range merged.Names() {
		v := merged[name]
		if !p.releases(name) || (v.Type.IsArray() && v.raw == "") {
			continue
		}
		attrs = append(attrs, Attribute{Name: name, Values: []string{v.String()}})
	}

	if err := checkReleased(out, attrs); err != nil {
		return Released{}, err
	}
	out.Attributes = attrs
	return out, nil
}

func baseOf(name string) string {
	base, _, _ := ParseName(name)
	return base
}

// checkReleased validates the wire result independently of how it was
// built: it is the last gate before Flex.
func checkReleased(r Released, attrs []Attribute) error {
	if r.NameIDFormat == NameIDFormatEmail {
		if _, err := Parse("email", r.NameID); err != nil {
			return err
		}
	}
	if len(attrs) < len(mandatory) {
		return &Error{Reason: "mandatory attributes missing"}
	}
	seen := make(map[string]string, len(attrs))
	for i, a := range attrs {
		base, _, err := ParseName(a.Name)
		if err != nil {
			return err
		}
		if i < len(mandatory) && a.Name != mandatory[i] {
			return &Error{Name: mandatory[i], Reason: "mandatory attribute missing"}
		}
		if other, ok := seen[base]; ok {
			return &Error{Name: a.Name, Reason: fmt.Sprintf("released twice (also as %q)", other)}
		}
		seen[base] = a.Name
		if len(a.Values) == 0 {
			return &Error{Name: a.Name, Reason: "no value"}
		}
		if len(a.Values) > 1 && base != "roles" {
			return &Error{Name: a.Name, Reason: "more than one value"}
		}
		var all []string
		for _, raw := range a.Values {
			v, err := Parse(a.Name, raw)
			if err != nil {
				return err
			}
			if v.String() != raw {
				return &Error{Name: a.Name, Want: v.Type.String(), Value: raw, Reason: "not in canonical form"}
			}
			if base == "roles" {
				all = append(all, v.Items()...)
			}
		}
		if base == "roles" {
			// Several values may repeat a role that no single value repeats.
			if err := ValidateRoles(all); err != nil {
				return err
			}
		}
	}
	return nil
}
