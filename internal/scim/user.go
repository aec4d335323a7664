package scim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/users"
)

// Schema URNs.
const (
	SchemaUser      = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaGroup     = "urn:ietf:params:scim:schemas:core:2.0:Group"
	SchemaFlexUser  = "urn:flexidp:params:scim:schemas:extension:flex:2.0:User"
	SchemaFlexGroup = "urn:flexidp:params:scim:schemas:extension:flex:2.0:Group"
	schemaList      = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	schemaError     = "urn:ietf:params:scim:api:messages:2.0:Error"
	schemaPatch     = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	schemaSPConfig  = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	schemaResType   = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	schemaSchema    = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// userResource is a SCIM User (RFC 7643 section 4.1) as flexidp maps it:
// userName is the email, name.formatted the full name, photos the image
// URL, active the opposite of disabled; the flexidp extension carries the
// Flex roles, team, program and typed attributes.
type userResource struct {
	Schemas     []string       `json:"schemas"`
	ID          string         `json:"id,omitempty"`
	ExternalID  string         `json:"externalId,omitempty"`
	UserName    string         `json:"userName"`
	Name        *userName      `json:"name,omitempty"`
	DisplayName string         `json:"displayName,omitempty"`
	Emails      []multiValue   `json:"emails,omitempty"`
	Photos      []multiValue   `json:"photos,omitempty"`
	Active      *flexBool      `json:"active,omitempty"`
	Flex        *flexExtension `json:"urn:flexidp:params:scim:schemas:extension:flex:2.0:User,omitempty"`
	Meta        *meta          `json:"meta,omitempty"`
	// Groups is read-only (RFC 7643 4.1.2): membership changes through
	// the Groups endpoint.
	Groups []multiValueRef `json:"groups,omitempty"`
}

type userName struct {
	Formatted  string `json:"formatted,omitempty"`
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
}

type multiValue struct {
	Value   string    `json:"value"`
	Type    string    `json:"type,omitempty"`
	Primary *flexBool `json:"primary,omitempty"`
	Display string    `json:"display,omitempty"`
}

// flexExtension is flexidp's own User extension.
type flexExtension struct {
	Roles      []string       `json:"roles,omitempty"`
	Team       string         `json:"team,omitempty"`
	Program    string         `json:"program,omitempty"`
	Attributes attributes.Set `json:"attributes,omitempty"`
}

type meta struct {
	ResourceType string `json:"resourceType"`
	Created      string `json:"created,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Location     string `json:"location,omitempty"`
	Version      string `json:"version,omitempty"`
}

// flexBool is a boolean as provisioning clients send it: true, or the
// strings "True" and "false" (Microsoft Entra ID sends "False").
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		v, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(s)))
		if err != nil {
			return fmt.Errorf("%q is not a boolean", s)
		}
		*b = flexBool(v)
		return nil
	}
	var v bool
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("%s is not a boolean", data)
	}
	*b = flexBool(v)
	return nil
}

func ptrBool(v bool) *flexBool { b := flexBool(v); return &b }

func scimTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func version(t time.Time) string { return `W/"` + strconv.FormatInt(t.UnixMicro(), 36) + `"` }

// toUser returns the SCIM form of u; base is the URL of the Users endpoint.
func toUser(u users.User, base string) userResource {
	r := userResource{
		Schemas:     []string{SchemaUser, SchemaFlexUser},
		ID:          u.ID,
		ExternalID:  u.ExternalID,
		UserName:    u.Email,
		DisplayName: u.DisplayName(),
		Emails:      []multiValue{{Value: u.Email, Type: "work", Primary: ptrBool(true)}},
		Active:      ptrBool(!u.Disabled),
		Flex:        &flexExtension{Roles: u.Roles, Team: u.Team, Program: u.Program, Attributes: u.Attributes},
		Meta: &meta{ResourceType: "User", Created: scimTime(u.CreatedAt), LastModified: scimTime(u.UpdatedAt),
			Location: base + "/" + u.ID, Version: version(u.UpdatedAt)},
	}
	if u.FullName != "" || u.GivenName != "" || u.FamilyName != "" {
		r.Name = &userName{Formatted: u.FullName, GivenName: u.GivenName, FamilyName: u.FamilyName}
	}
	if u.ImageURL != "" {
		r.Photos = []multiValue{{Value: u.ImageURL, Type: "photo"}}
	}
	return r
}

// apply writes the profile r describes onto u: what PUT replaces and what
// a PATCH leaves after its operations. flexidp has one address per user:
// userName (the identifier every connector is told to use), unless
// userName is unchanged and the primary (or work) email changed, as Entra
// sends a new address with emails[type eq "work"].value. Fields r does not
// carry are cleared, as a replacement requires (RFC 7644 3.5.1).
func (r userResource) apply(u *users.User) {
	email := strings.TrimSpace(r.UserName)
	if e := r.email(); e != "" && !strings.EqualFold(e, email) && u.Email != "" && strings.EqualFold(email, u.Email) {
		email = e
	}
	u.Email = email
	u.ExternalID = r.ExternalID
	u.FullName, u.GivenName, u.FamilyName = "", "", ""
	if r.Name != nil {
		u.FullName, u.GivenName, u.FamilyName = r.Name.Formatted, r.Name.GivenName, r.Name.FamilyName
	}
	if u.FullName == "" && r.DisplayName != "" && r.DisplayName != u.DisplayName() {
		u.FullName = r.DisplayName
	}
	u.ImageURL = ""
	for _, p := range r.Photos {
		if u.ImageURL == "" || (p.Primary != nil && bool(*p.Primary)) {
			u.ImageURL = p.Value
		}
	}
	u.Roles, u.Team, u.Program, u.Attributes = nil, "", "", nil
	if r.Flex != nil {
		u.Roles, u.Team, u.Program, u.Attributes = r.Flex.Roles, r.Flex.Team, r.Flex.Program, r.Flex.Attributes
	}
}

// email is the primary email of r, else its work email, else its first.
func (r userResource) email() string {
	var work, first string
	for _, e := range r.Emails {
		switch {
		case e.Primary != nil && bool(*e.Primary):
			return strings.TrimSpace(e.Value)
		case strings.EqualFold(e.Type, "work") && work == "":
			work = e.Value
		case first == "":
			first = e.Value
		}
	}
	return strings.TrimSpace(cmp.Or(work, first))
}

// userAttrs are the attributes of a User a filter, a PATCH path or
// attributes= may name (lower case; "" for the attribute itself).
var userAttrs = map[string][]string{
	"id": nil, "externalid": nil, "username": nil, "displayname": nil, "active": nil,
	"name":   {"formatted", "givenname", "familyname"},
	"emails": {"value", "type", "primary", "display"},
	"photos": {"value", "type", "primary", "display"},
	"meta":   {"resourcetype", "created", "lastmodified", "location", "version"},
	"groups": {"value", "display", "$ref", "type"},
}

var flexUserAttrs = map[string][]string{"roles": nil, "team": nil, "program": nil, "attributes": nil}

// knownIn returns the function that says whether a path names an
// attribute of a resource whose core schema is core, with the extension
// ext and its attributes.
func knownIn(core string, attrs map[string][]string, ext string, extAttrs map[string][]string) func(attrPath) bool {
	return func(p attrPath) bool {
		set, inExt := attrs, false
		switch {
		case p.urn == "" || strings.EqualFold(p.urn, core):
		case strings.EqualFold(p.urn, ext):
			set, inExt = extAttrs, true
		default:
			return false
		}
		subs, ok := set[strings.ToLower(p.attr)]
		if !ok {
			return false
		}
		if p.sub == "" {
			return true
		}
		for _, s := range subs {
			if s == strings.ToLower(p.sub) {
				return true
			}
		}
		// The typed Flex attributes are a map of names of our own.
		return strings.EqualFold(p.attr, "attributes") && inExt
	}
}

var knownUserAttr = knownIn(SchemaUser, userAttrs, SchemaFlexUser, flexUserAttrs)
