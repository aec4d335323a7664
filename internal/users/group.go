package users

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/flexidp/flexidp/internal/attributes"
)

// Group is a set of users that share a Flex profile: "everyone in
// Spanish Sales has role agent, team Sales-ES, skills spanish,sales and
// chat capacity 3" is one group. What its members receive is worked out
// by Effective.
type Group struct {
	// ID is immutable and random.
	ID string
	// Name is unique, compared case-insensitively; its case is kept as
	// entered. Sources in previews read "group <Name>".
	Name        string
	Description string
	// ExternalID is the identifier a provisioning client (SCIM) gave the
	// group; empty when none. Unique when set.
	ExternalID string
	// Roles are Flex roles every member receives (a union with their own).
	Roles []string
	// Team and Program are given to members who have none of their own.
	Team    string
	Program string
	// Attributes are typed Flex attributes given to the members; see
	// Effective for how they combine with the user's and other groups'.
	Attributes attributes.Set
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Limits on a group's descriptive fields.
const (
	MaxGroupNameLen        = 128
	MaxGroupDescriptionLen = 1024
	MaxExternalIDLen       = 256
)

// NormalizeGroupName trims a group name and collapses nothing else: the
// name is shown as entered.
func NormalizeGroupName(s string) string { return strings.TrimSpace(s) }

// Validate checks every field a store would persist. The Flex profile
// (roles, team, program, attributes) is checked by the same function as a
// user's own, so a group can never carry a value a user could not.
func (g *Group) Validate() error {
	if err := checkText("name", g.Name, MaxGroupNameLen, true); err != nil {
		return err
	}
	if g.Name != NormalizeGroupName(g.Name) {
		return &ValidationError{Field: "name", Reason: fmt.Sprintf("%q has spaces around it", g.Name)}
	}
	if strings.Contains(g.Name, ",") {
		return &ValidationError{Field: "name", Reason: fmt.Sprintf("%q contains a comma, and lists of groups (an import's groups column) are comma-separated", g.Name)}
	}
	if err := checkText("description", g.Description, MaxGroupDescriptionLen, false); err != nil {
		return err
	}
	if err := checkText("external_id", g.ExternalID, MaxExternalIDLen, false); err != nil {
		return err
	}
	return validateFlex(g.Roles, g.Team, g.Program, g.Attributes)
}

// checkText refuses text that is not printable UTF-8 or is too long.
func checkText(field, s string, maxLen int, required bool) error {
	switch {
	case s == "" && required:
		return &ValidationError{Field: field, Reason: "is required"}
	case !utf8.ValidString(s):
		return &ValidationError{Field: field, Reason: "is not valid UTF-8"}
	case utf8.RuneCountInString(s) > maxLen:
		return &ValidationError{Field: field, Reason: fmt.Sprintf("is longer than %d characters", maxLen)}
	case strings.ContainsFunc(s, unicode.IsControl):
		return &ValidationError{Field: field, Reason: "contains a control character"}
	}
	return nil
}
