package attributes

import (
	"slices"
	"strings"
)

// The Flex roles. Insights roles are wfo.<name>; the known ones are listed
// in KnownRoles, and any other wfo.<name> of lower-case letters and '_' is
// accepted so a role Twilio adds later does not need a release of flexidp.
var (
	flexRoles     = []string{"admin", "supervisor", "agent"}
	insightsRoles = []string{
		"wfo.full_access", "wfo.team_leader", "wfo.data_analyst", "wfo.data_auditor",
		"wfo.quality_manager", "wfo.quality_process_manager", "wfo.dashboard_viewer", "wfo.llm_user",
	}
	knownRoles = append(slices.Clone(flexRoles), insightsRoles...)
)

// KnownRoles returns the documented Flex and Flex Insights roles.
func KnownRoles() []string { return slices.Clone(knownRoles) }

// IsKnownRole reports whether role is one of KnownRoles. ValidateRoles
// accepts more (any wfo.<name>); a UI may use this to warn about a role
// that is valid but undocumented.
func IsKnownRole(role string) bool { return slices.Contains(knownRoles, role) }

// SuggestRole returns the known role nearest to role, when role is not
// known itself and one is near enough to be a likely typo.
func SuggestRole(role string) (string, bool) {
	if IsKnownRole(role) {
		return "", false
	}
	s := strings.ToLower(strings.TrimSpace(role))
	best, bestD := "", -1
	for _, k := range knownRoles {
		d := distance(s, k)
		if d <= max(2, len(k)/4) && (bestD < 0 || d < bestD) {
			best, bestD = k, d
		}
	}
	return best, bestD >= 0
}

// ValidateRoles checks a user's roles: each one admin, supervisor, agent or
// wfo.<name>, no empty role, no comma inside a role, no duplicate. An empty
// list is valid here: whether a user without a role may sign in is decided
// by Release. The error is an *Error with Name "roles" and, for a typo,
// a Suggestion.
func ValidateRoles(roles []string) error {
	for i, r := range roles {
		var reason string
		switch {
		case r == "":
			reason = "empty"
		case strings.Contains(r, ","):
			reason = "a list, not one role: Flex splits roles on commas; give them separately"
		case slices.Contains(roles[:i], r):
			reason = "listed twice"
		case !validRole(r):
			reason = "not a Flex role"
		default:
			continue
		}
		e := &Error{Name: "roles", Want: wantRole, Value: r, Reason: reason}
		if reason == "not a Flex role" {
			if s, ok := SuggestRole(r); ok {
				e.Suggestion = s
			} else {
				e.Reason += " (admin, supervisor, agent or wfo.<name>)"
			}
		}
		return e
	}
	return nil
}

// ParseRoles parses a comma-separated list of roles ("supervisor, agent"),
// trimming spaces, and validates it. An empty or blank s gives no roles.
func ParseRoles(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	roles := strings.Split(s, ",")
	for i := range roles {
		roles[i] = strings.TrimSpace(roles[i])
	}
	if err := ValidateRoles(roles); err != nil {
		return nil, err
	}
	return roles, nil
}

func validRole(r string) bool {
	if slices.Contains(flexRoles, r) {
		return true
	}
	name, ok := strings.CutPrefix(r, "wfo.")
	if !ok || name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !((c >= 'a' && c <= 'z') || c == '_') {
			return false
		}
	}
	return true
}

// distance is the optimal string alignment distance (Levenshtein with
// transpositions of adjacent characters) between a and b.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows suffice: the current one, the previous one and the one
	// before it for transpositions.
	// Names and type words are short: their rows fit on the stack (every
	// attribute name is checked at each release, see checkSuffix).
	var rows [3][32]int
	var prev2, prev, cur []int
	if n := len(rb) + 1; n <= len(rows[0]) {
		prev2, prev, cur = rows[0][:n], rows[1][:n], rows[2][:n]
	} else {
		prev2, prev, cur = make([]int, n), make([]int, n), make([]int, n)
	}
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
