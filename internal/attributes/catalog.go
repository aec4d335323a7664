package attributes

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
)

// Entry describes an attribute Flex knows.
type Entry struct {
	// Name is the attribute name; a family of names is written with a
	// placeholder: "channel.<taskchannel>.capacity".
	Name string
	// Type is the type Flex expects; names without a suffix use it.
	Type Type
	// Group is one of the Group constants.
	Group string
	// Description says what Flex does with the attribute.
	Description string
}

// Catalog groups.
const (
	GroupMandatory = "mandatory" // sent to every SP: email, full_name, roles
	GroupAgent     = "agent"     // Flex agent UI
	GroupInsights  = "insights"  // Flex Insights (recommended)
	GroupTeams     = "teams"     // team visibility (Pattern A)
	GroupRouting   = "routing"   // TaskRouter contact
	GroupCapacity  = "capacity"  // per task channel capacity and availability
)

const (
	familyPrefix       = "channel."
	capacitySuffix     = ".capacity"
	availabilitySuffix = ".availability"
	capacityName       = "channel.<taskchannel>.capacity"
	availabilityName   = "channel.<taskchannel>.availability"
)

var catalog = []Entry{
	{"email", String, GroupMandatory, "Email address of the Flex user."},
	{"full_name", String, GroupMandatory, "Full name shown in Flex."},
	{"roles", StringArray, GroupMandatory, "Flex roles (admin, supervisor, agent) and Flex Insights roles (wfo.*), comma-separated; the one array without a type suffix."},
	{"image_url", String, GroupAgent, "Avatar URL shown in the Flex agent UI."},
	{"contact_uri", String, GroupRouting, "Where calls are dequeued: client:<identity> (the Flex default), a SIP URI or an E.164 number."},
	{"team", String, GroupTeams, "Team name, exact and case-sensitive; supervisors see their team. Users without a team see all teams."},
	{"program", String, GroupTeams, "Programme the team belongs to (Pattern A)."},
	{"department", String, GroupInsights, "Department of the agent in Flex Insights."},
	{"location", String, GroupInsights, "Location of the agent in Flex Insights."},
	{"manager", String, GroupInsights, "Manager of the agent in Flex Insights."},
	{"phone", String, GroupInsights, "Phone number of the agent in Flex Insights."},
	{"team_id", String, GroupInsights, "Team ID in Flex Insights."},
	{"team_name", String, GroupInsights, "Team name in Flex Insights."},
	{"team_name_in_hierarchy", String, GroupInsights, "Team path in Flex Insights, comma-separated (London,Sales,VIP); still one string."},
	{capacityName, Int, GroupCapacity, "Capacity of the worker on a TaskChannel, an integer >= 0 (channel.chat.capacity=3)."},
	{availabilityName, Boolean, GroupCapacity, "Availability of the worker on a TaskChannel (channel.voice.availability=false)."},
}

// rule is what one attribute expects: a type and, for catalog entries,
// a check beyond the type.
type rule struct {
	typ   Type
	want  string             // Want of errors when it says more than the type word
	check func(Value) *Error // nil, or a partial *Error (Reason, maybe Want/Suggestion)
}

var rules = map[string]rule{
	"email":       {want: "email address", check: checkEmail},
	"full_name":   {want: "non-empty string", check: checkNonEmpty},
	"roles":       {want: "Flex roles", check: checkRoles},
	"image_url":   {want: "http(s) URL", check: checkImageURL},
	"contact_uri": {want: "contact URI (client:<identity>, sip:user@host or E.164 +number)", check: checkContactURI},
	"team":        {want: "non-empty string", check: checkNonEmpty},
	"program":     {want: "non-empty string", check: checkNonEmpty},
	capacityName:  {want: "int >= 0", check: checkNonNegative},
}

var entries = func() map[string]Entry {
	m := make(map[string]Entry, len(catalog))
	for _, e := range catalog {
		m[e.Name] = e
	}
	return m
}()

// Catalog returns the attributes Flex knows, mandatory ones first.
func Catalog() []Entry { return append([]Entry(nil), catalog...) }

// Lookup returns the catalog entry of an attribute name, matching families
// (channel.chat.capacity gives the channel.<taskchannel>.capacity entry)
// and ignoring a type suffix.
func Lookup(name string) (Entry, bool) {
	base, _, err := ParseName(name)
	if err != nil {
		return Entry{}, false
	}
	e, ok, _ := lookup(base)
	return e, ok
}

// lookup finds the entry of a base name. For a name shaped like a capacity
// attribute with an invalid task channel it returns a reason instead, so
// a typo such as channel.Chat.capacity is not silently sent as a string.
func lookup(base string) (e Entry, ok bool, reason string) {
	if e, ok := entries[base]; ok {
		return e, true, ""
	}
	rest, found := strings.CutPrefix(base, familyPrefix)
	if !found {
		return Entry{}, false, ""
	}
	for _, fam := range []struct{ suffix, name string }{{capacitySuffix, capacityName}, {availabilitySuffix, availabilityName}} {
		ch, found := strings.CutSuffix(rest, fam.suffix)
		if !found {
			continue
		}
		if !validTaskChannel(ch) {
			return Entry{}, false, fmt.Sprintf("task channel %q of %s must match [a-z0-9_-]+", ch, fam.name)
		}
		return entries[fam.name], true, ""
	}
	return Entry{}, false, ""
}

func validTaskChannel(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !((c >= 'a' && c <= 'z') || isDigit(c) || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// expect returns the rule for values of the attribute name.
func expect(name string) (rule, error) {
	base, st, err := ParseName(name)
	if err != nil {
		return rule{}, err
	}
	if e := checkSuffix(name); e != nil {
		return rule{}, e
	}
	e, ok, reason := lookup(base)
	if reason != "" {
		return rule{}, &Error{Name: name, Reason: reason}
	}
	if !ok {
		return rule{typ: st}, nil
	}
	if hasSuffix(name) && st != e.Type {
		return rule{}, &Error{Name: name, Reason: fmt.Sprintf("type suffix %q conflicts with the Flex attribute %s, which is %s", st, e.Name, e.Type)}
	}
	r := rules[e.Name]
	r.typ = e.Type
	return r, nil
}

func (r rule) wantText() string {
	if r.want != "" {
		return r.want
	}
	return r.typ.String()
}

// finish applies the catalog check to a value of the right type.
func (r rule) finish(name, raw string, v Value) (Value, error) {
	if r.check == nil {
		return v, nil
	}
	e := r.check(v)
	if e == nil {
		return v, nil
	}
	e.Name = name
	if e.Want == "" {
		e.Want = r.wantText()
	}
	if e.Value == "" {
		e.Value = raw
	}
	return Value{}, e
}

func checkNonEmpty(v Value) *Error {
	if strings.TrimSpace(v.raw) == "" {
		return &Error{Reason: "empty"}
	}
	return nil
}

func checkNonNegative(v Value) *Error {
	if strings.HasPrefix(v.raw, "-") {
		return &Error{Reason: "negative"}
	}
	return nil
}

func checkEmail(v Value) *Error {
	s := v.raw
	local, domain, ok := strings.Cut(s, "@")
	switch {
	case s == "":
		return &Error{Reason: "empty"}
	case len(s) > 254:
		return &Error{Reason: "longer than 254 characters"}
	case !ok || local == "" || domain == "" || strings.Contains(domain, "@"):
		return &Error{Reason: "not of the form local@domain"}
	case strings.ContainsFunc(s, isSpaceOrSpecial):
		return &Error{Reason: "contains a space or one of <>(),;:\\\""}
	case strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, ".."):
		return &Error{Reason: "empty label in the domain"}
	}
	return nil
}

func isSpaceOrSpecial(r rune) bool {
	return r <= ' ' || strings.ContainsRune("<>(),;:\\\"[]", r) || r == 0x85 || r == 0xA0
}

func checkRoles(v Value) *Error {
	roles := v.Items()
	if len(roles) == 0 {
		return &Error{Reason: "empty: Flex refuses a user without a role"}
	}
	if err := ValidateRoles(roles); err != nil {
		e := *err.(*Error)
		return &e
	}
	return nil
}

func checkImageURL(v Value) *Error {
	u, err := url.Parse(v.raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.ContainsFunc(v.raw, unicode.IsSpace) {
		return &Error{Reason: "not an absolute http or https URL"}
	}
	return nil
}

// checkContactURI accepts what Flex documents for contact_uri:
// client:<identity> (Twilio client identities are ASCII letters, digits and
// '_'; Flex encodes other characters as _XX), sip:user@host[:port][;params]
// and E.164 numbers (+, then 8 to 15 digits, the first not 0).
func checkContactURI(v Value) *Error {
	s := v.raw
	if id, ok := strings.CutPrefix(s, "client:"); ok {
		if id == "" || strings.ContainsFunc(id, func(r rune) bool { return !(r < 128 && (isLetter(byte(r)) || isDigit(byte(r)) || r == '_')) }) {
			return &Error{Reason: "a client identity is one or more ASCII letters, digits or '_'"}
		}
		return nil
	}
	if rest, ok := strings.CutPrefix(s, "sip:"); ok {
		if reason := sipReason(rest); reason != "" {
			return &Error{Reason: reason}
		}
		return nil
	}
	if digits, ok := strings.CutPrefix(s, "+"); ok {
		if len(digits) < 8 || len(digits) > 15 || digits[0] == '0' || strings.ContainsFunc(digits, func(r rune) bool { return r < '0' || r > '9' }) {
			return &Error{Reason: "an E.164 number is + then 8 to 15 digits, the first not 0"}
		}
		return nil
	}
	return &Error{Reason: "neither client:, sip: nor an E.164 number"}
}

func sipReason(s string) string {
	user, hostport, ok := strings.Cut(s, "@")
	if !ok || user == "" || hostport == "" {
		return "a SIP URI is sip:user@host"
	}
	if strings.ContainsFunc(user, func(r rune) bool { return r <= ' ' || r >= 127 || strings.ContainsRune("<>\"@", r) }) {
		return "the SIP user part contains a space or one of <>\"@"
	}
	if i := strings.IndexAny(hostport, ";?"); i >= 0 {
		if strings.ContainsFunc(hostport[i:], func(r rune) bool { return r <= ' ' || r >= 127 || strings.ContainsRune("<>\"@", r) }) {
			return "the SIP URI parameters contain a space or one of <>\"@"
		}
		hostport = hostport[:i]
	}
	host, port, hasPort := strings.Cut(hostport, ":")
	if hasPort && !validPort(port) {
		return "the SIP port is not a number from 1 to 65535"
	}
	if !validHost(host) {
		return "the SIP host is not a host name or IPv4 address"
	}
	return ""
}

func validPort(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n >= 1 && n <= 65535
}

// validHost accepts DNS names and IPv4 addresses: dot-separated labels of
// ASCII letters, digits and '-', not starting or ending with '-'.
func validHost(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !(isLetter(c) || isDigit(c) || c == '-') {
				return false
			}
		}
	}
	return true
}
