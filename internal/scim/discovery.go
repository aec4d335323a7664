package scim

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
)

// The discovery endpoints (RFC 7644 section 4): what this server supports
// and the schemas of its resources, so that a client (Okta's and Entra's
// connectors read ServiceProviderConfig) need not guess.

func (h *Handler) serviceProviderConfig(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, "application/scim+json", http.StatusOK, map[string]any{
		"schemas":          []string{schemaSPConfig},
		"documentationUri": "https://github.com/flexidp/flexidp#provisioning-scim-20",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": maxCount},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": false},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []map[string]any{{
			"type": "oauthbearertoken", "name": "API token", "primary": true,
			"description": "A flexidp API token with the scim scope (idp tokens create --scope scim), sent as Authorization: Bearer fidp_...",
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": h.base("ServiceProviderConfig")},
	})
}

func (h *Handler) resourceTypeList() []map[string]any {
	return []map[string]any{
		{"schemas": []string{schemaResType}, "id": "User", "name": "User", "endpoint": "/Users", "description": "A person who signs in to Flex",
			"schema":           SchemaUser,
			"schemaExtensions": []map[string]any{{"schema": SchemaFlexUser, "required": false}},
			"meta":             map[string]any{"resourceType": "ResourceType", "location": h.base("ResourceTypes/User")}},
		{"schemas": []string{schemaResType}, "id": "Group", "name": "Group", "endpoint": "/Groups", "description": "A team that carries Flex roles and attributes",
			"schema":           SchemaGroup,
			"schemaExtensions": []map[string]any{{"schema": SchemaFlexGroup, "required": false}},
			"meta":             map[string]any{"resourceType": "ResourceType", "location": h.base("ResourceTypes/Group")}},
	}
}

func (h *Handler) resourceTypes(w http.ResponseWriter, r *http.Request) {
	writeAll(w, h.resourceTypeList())
}

func (h *Handler) resourceType(w http.ResponseWriter, r *http.Request) {
	writeOne(w, h.resourceTypeList(), chi.URLParam(r, "name"), "There is no such resource type.")
}

// writeAll answers a discovery list: all of it, in one page.
func writeAll(w http.ResponseWriter, list []map[string]any) {
	res := make([]any, len(list))
	for i, x := range list {
		res[i] = x
	}
	writeJSON(w, "application/scim+json", http.StatusOK, listResponse{Schemas: []string{schemaList}, TotalResults: len(res),
		StartIndex: 1, ItemsPerPage: len(res), Resources: res})
}

// writeOne answers the item of list whose id is id (in any case).
func writeOne(w http.ResponseWriter, list []map[string]any, id, notFound string) {
	for _, x := range list {
		if strings.EqualFold(x["id"].(string), id) {
			writeJSON(w, "application/scim+json", http.StatusOK, x)
			return
		}
	}
	writeSCIMError(w, &Error{Status: http.StatusNotFound, Detail: notFound})
}

// attr describes one attribute of a schema (RFC 7643 section 7).
func attr(name, typ, description string, opts ...func(map[string]any)) map[string]any {
	a := map[string]any{"name": name, "type": typ, "description": description, "multiValued": false, "required": false,
		"caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": "none"}
	for _, o := range opts {
		o(a)
	}
	return a
}

func multi(a map[string]any)    { a["multiValued"] = true }
func required(a map[string]any) { a["required"] = true }
func exact(a map[string]any)    { a["caseExact"] = true }
func readOnly(a map[string]any) { a["mutability"] = "readOnly" }
func unique(a map[string]any)   { a["uniqueness"] = "server" }
func subs(list ...map[string]any) func(map[string]any) {
	return func(a map[string]any) { a["subAttributes"] = list }
}

func (h *Handler) schemaList() []map[string]any {
	valueType := subs(attr("value", "string", "The value"), attr("type", "string", "work, home, photo..."),
		attr("primary", "boolean", "The primary value"), attr("display", "string", "A label"))
	member := subs(attr("value", "string", "The id of the member", exact), attr("display", "string", "The member's name", readOnly),
		attr("$ref", "reference", "The member's URI", readOnly), attr("type", "string", "User"))
	flexAttrs := []map[string]any{
		attr("roles", "string", "Flex roles (agent, supervisor, admin, wfo.*)", multi),
		attr("team", "string", "Flex team_name"),
		attr("program", "string", "Flex program"),
		attr("attributes", "complex", "Typed Flex attributes by name (skills.intarray, channel.chat.capacity, department...), validated as everywhere in flexidp"),
	}
	schema := func(id, name, desc string, attrs []map[string]any) map[string]any {
		return map[string]any{"schemas": []string{schemaSchema}, "id": id, "name": name, "description": desc, "attributes": attrs,
			"meta": map[string]any{"resourceType": "Schema", "location": h.base("Schemas/" + id)}}
	}
	return []map[string]any{
		schema(SchemaUser, "User", "A flexidp user", []map[string]any{
			attr("id", "string", "flexidp's immutable user ID", readOnly, exact, unique),
			attr("externalId", "string", "The client's identifier for the user", exact),
			attr("userName", "string", "The user's email address; unique, case-insensitive", required, unique),
			attr("name", "complex", "The user's name", subs(attr("formatted", "string", "Full name (Flex full_name)"),
				attr("givenName", "string", "Given name"), attr("familyName", "string", "Family name"))),
			attr("displayName", "string", "The name Flex shows: the full name, else given and family name"),
			attr("emails", "complex", "The user's email: the same as userName", multi, valueType),
			attr("photos", "complex", "The user's picture URL (Flex image_url)", multi, valueType),
			attr("active", "boolean", "false disables the user and ends their sessions"),
		}),
		schema(SchemaFlexUser, "FlexUser", "flexidp's Flex attributes of a user", flexAttrs),
		schema(SchemaGroup, "Group", "A flexidp group", []map[string]any{
			attr("id", "string", "flexidp's group ID", readOnly, exact, unique),
			attr("externalId", "string", "The client's identifier for the group", exact),
			attr("displayName", "string", "The group's name; unique", required, unique),
			attr("members", "complex", "The users in the group", multi, member),
		}),
		schema(SchemaFlexGroup, "FlexGroup", "The Flex roles and attributes a group gives its members", flexAttrs),
	}
}

func (h *Handler) schemas(w http.ResponseWriter, r *http.Request) { writeAll(w, h.schemaList()) }

func (h *Handler) schema(w http.ResponseWriter, r *http.Request) {
	writeOne(w, h.schemaList(), chi.URLParam(r, "urn"), "There is no such schema.")
}
