package importer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/users"
)

// The field setters below store a value into the row's user and record
// every problem with it, so that one row can report several problems.

func (r *row) setEmail(field, v string) {
	r.u.Email = users.NormalizeEmail(v)
	if err := users.ValidateEmail(r.u.Email); err != nil {
		r.failErr(field, err)
	}
}

// maxIDLen bounds an imported user ID (it becomes a persistent NameID).
const maxIDLen = 128

func (r *row) setID(v string) {
	r.u.ID = v
	if v == "" {
		return
	}
	if len(v) > maxIDLen {
		r.fail("id", "is longer than 128 characters")
		return
	}
	for _, c := range v {
		if unicode.IsSpace(c) || !unicode.IsPrint(c) {
			r.fail("id", "contains a space or a control character")
			return
		}
	}
}

// setText stores a Flex text field (full name, given and family name,
// team, program) checked with the rule users.User.Validate applies: the
// rule of the Flex attribute rule names.
func (r *row) setText(field, rule string, dst *string, v string) {
	*dst = v
	if v == "" {
		return
	}
	if (field == "given_name" || field == "family_name") && len(v) > 256 {
		r.fail(field, "is longer than 256 characters")
		return
	}
	if _, err := attributes.Parse(rule, v); err != nil {
		r.failErr(field, err)
	}
}

func (r *row) setImageURL(field, v string) {
	r.u.ImageURL = v
	if v == "" {
		return
	}
	// The one rule for image URLs is in users.User.Validate.
	probe := users.User{Email: "probe@example.com", ImageURL: v}
	if err := probe.Validate(); err != nil {
		r.failErr(field, err)
	}
}

// setRolesList stores roles given as a comma-separated string.
func (r *row) setRolesList(field, v string) {
	roles, err := attributes.ParseRoles(v)
	if err != nil {
		r.failErr(field, err)
		// Keep them for duplicate detection and messages; the row is
		// refused anyway.
		return
	}
	r.u.Roles = roles
}

// setRoles stores roles given one by one (a JSON array).
func (r *row) setRoles(field string, roles []string) {
	r.u.Roles = roles
	if err := attributes.ValidateRoles(roles); err != nil {
		r.failErr(field, err)
	}
}

// setRolesJSON stores roles given as a JSON array of strings or as one
// comma-separated string (both are seen in Auth0 app_metadata).
func (r *row) setRolesJSON(field string, raw json.RawMessage) {
	if len(raw) == 0 || string(raw) == "null" {
		return
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		r.setRoles(field, list)
		return
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		r.setRolesList(field, s)
		return
	}
	r.fail(field, "want a JSON array of role names, got "+shorten(string(raw)))
}

// setAttr stores one attribute given in its wire form (a CSV cell).
func (r *row) setAttr(name, raw string) {
	v, err := attributes.Parse(name, raw)
	if err != nil {
		r.failErr(name, err)
		return
	}
	r.addAttr(name, v)
}

// setAttrJSON stores one attribute given as typed JSON.
func (r *row) setAttrJSON(name string, raw json.RawMessage) {
	v, err := attributes.ParseJSON(name, raw)
	if err != nil {
		r.failErr(name, err)
		return
	}
	r.addAttr(name, v)
}

func (r *row) addAttr(name string, v attributes.Value) {
	if r.u.Attributes == nil {
		r.u.Attributes = attributes.Set{}
	}
	r.u.Attributes[name] = v
}

// checkAttrs applies the rules of a whole set (reserved names, two names
// with one base); each value was checked when it was set.
func (r *row) checkAttrs() {
	if err := r.u.Attributes.Validate(); err != nil {
		r.failErr("", err)
	}
}

func (r *row) setHash(field, v string) {
	r.u.PasswordHash = v
	if v == "" {
		return
	}
	if err := users.CheckHash(v); err != nil {
		r.fail(field, hashReason(err))
	}
}

// hashReason explains a refused hash without quoting it: hashes are
// secrets and never shown.
func hashReason(err error) string {
	if errors.Is(err, users.ErrUnsupportedHash) {
		return "unsupported password hash: flexidp verifies argon2id, argon2i and bcrypt ($2a$, $2b$, $2y$); leave it empty and the user sets a new password"
	}
	if errors.Is(err, users.ErrHashLimits) {
		_, limit, _ := strings.Cut(err.Error(), "limits: ")
		return "password hash too costly to verify: " + limit + "; leave it empty and the user sets a new password"
	}
	detail := strings.TrimPrefix(err.Error(), "users: ")
	detail = strings.TrimPrefix(strings.TrimPrefix(detail, "malformed password hash"), ": ")
	if detail == "" {
		return "malformed password hash"
	}
	return "malformed password hash: " + detail
}

func (r *row) setDisabled(field, v string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(field, strconv.Quote(v)+" is not true or false")
		return
	}
	r.u.Disabled = b
}

// shorten quotes s for a message, cut to a readable length.
func shorten(s string) string {
	if rs := []rune(s); len(rs) > 60 {
		s = string(rs[:60]) + "…"
	}
	return strconv.Quote(s)
}

// setGroups reads the names of the user's groups: a comma-separated list
// (CSV) or a JSON array, each name trimmed, none empty or twice.
func (r *row) setGroups(field string, names []string) {
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		switch k := strings.ToLower(n); {
		case n == "":
			r.fail(field, "an empty group name")
			return
		case seen[k]:
			r.fail(field, fmt.Sprintf("group %q is listed twice", n))
			return
		default:
			seen[k] = true
			r.groups = append(r.groups, n)
		}
	}
}

// checkGroups refuses a row whose groups GroupCheck refuses, and keeps
// the names as stored.
func (p *parser) checkGroups(r *row) {
	if p.groupCheck == nil {
		return
	}
	names, err := p.groupCheck(r.u, r.groups)
	if err != nil {
		r.fail("groups", err.Error())
		return
	}
	if len(r.groups) > 0 {
		r.groups = names
	}
}
