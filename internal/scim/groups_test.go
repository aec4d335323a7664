package scim_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// groupEnv is env with two users created through SCIM.
func groupEnv(t *testing.T, e *env) (alice, bob string) {
	t.Helper()
	alice = must(t, e.scim("POST", "/Users", strings.Replace(newUserBody, "agent@", "alice@", 1)), 201, "alice").json(t)["id"].(string)
	bob = must(t, e.scim("POST", "/Users", strings.Replace(newUserBody, "agent@", "bob@", 1)), 201, "bob").json(t)["id"].(string)
	return alice, bob
}

func members(t *testing.T, e *env, group string) []string {
	t.Helper()
	us, err := e.st.GroupMembers(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, u := range us {
		out = append(out, u.Email)
	}
	return out
}

func wantMembers(t *testing.T, e *env, group string, want ...string) {
	t.Helper()
	if got := members(t, e, group); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("members %v, want %v", got, want)
	}
}

// TestOktaGroupPush replays Okta's group push: create, get without
// members, PUT with members, PATCH rename (with the id in the value),
// PATCH remove members[value eq "..."], PATCH add members, filter by
// displayName, delete. Members' changes are audited with the token's name.
func TestOktaGroupPush(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.open(t))
			alice, bob := groupEnv(t, e)
			r := must(t, e.scim("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Test SCIMv2","members":[]}`), 201, "create")
			g := r.json(t)["id"].(string)
			got := must(t, e.scim("GET", "/Groups/"+g+"?excludedAttributes=members", ""), 200, "get").json(t)
			if _, ok := got["members"]; ok || got["displayName"] != "Test SCIMv2" {
				t.Fatalf("get without members: %v", got)
			}
			must(t, e.scim("PUT", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"`+g+`","displayName":"Test SCIMv2",
				"members":[{"value":"`+alice+`","display":"alice@example.com"},{"value":"`+bob+`","display":"bob@example.com"}]}`), 200, "put members")
			wantMembers(t, e, g, "alice@example.com", "bob@example.com")
			r = must(t, e.scim("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations":[{"op":"replace","value":{"id":"`+g+`","displayName":"Updated Test SCIMv2"}}]}`), 200, "rename")
			wantField(t, r.json(t), "Updated Test SCIMv2", "displayName")
			must(t, e.scim("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations":[{"op":"remove","path":"members[value eq \"`+alice+`\"]"}]}`), 200, "remove member")
			wantMembers(t, e, g, "bob@example.com")
			must(t, e.scim("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations":[{"op":"add","path":"members","value":[{"value":"`+alice+`","display":"alice@example.com"}]}]}`), 200, "add member")
			wantMembers(t, e, g, "alice@example.com", "bob@example.com")
			list := must(t, e.scim("GET", "/Groups?filter="+url.QueryEscape(`displayName eq "updated test scimv2"`)+"&startIndex=1&count=100", ""), 200, "filter").json(t)
			wantField(t, list, 1, "totalResults")
			list = must(t, e.scim("GET", "/Groups?filter="+url.QueryEscape(`members[value eq "`+alice+`"]`), ""), 200, "filter by member").json(t)
			wantField(t, list, 1, "totalResults")
			evs, err := e.st.ListAudit(context.Background(), store.AuditFilter{Action: "admin.group"})
			if err != nil || len(evs) < 5 {
				t.Fatalf("group audit events: %d (%v)", len(evs), err)
			}
			for _, ev := range evs {
				if ev.Actor != "okta" {
					t.Fatalf("group event %s by %q, want okta", ev.Action, ev.Actor)
				}
			}
			must(t, e.scim("DELETE", "/Groups/"+g, ""), 204, "delete")
			must(t, e.scim("GET", "/Groups/"+g, ""), 404, "get deleted")
			if _, err := e.svc.FindUser(context.Background(), alice); err != nil {
				t.Fatalf("deleting the group removed a member: %v", err)
			}
		})
	}
}

// TestEntraGroupSequence replays Entra ID: create with externalId, the
// look-up by displayName without members, capitalised Add and Remove of
// members with a value list ("$ref": null), and a Replace of displayName.
// A group's Flex extension gives its members roles and skills, and a
// membership that would give a member conflicting values is refused with
// a 409 that says so, changing nothing.
func TestEntraGroupSequence(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.open(t))
			alice, bob := groupEnv(t, e)
			r := must(t, e.scim("POST", "/Groups", `{"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"Spanish Sales",
				"meta":{"resourceType":"Group"},"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
				"urn:flexidp:params:scim:schemas:extension:flex:2.0:Group":{"roles":["agent"],"team":"Sales-ES",
				"attributes":{"skills.array":["spanish","sales"],"channel.chat.capacity.int":3}}}`), 201, "create")
			g := r.json(t)["id"].(string)
			list := must(t, e.scim("GET", "/Groups?excludedAttributes=members&filter="+url.QueryEscape(`displayName eq "Spanish Sales"`), ""), 200, "look-up").json(t)
			wantField(t, list, 1, "totalResults")
			patch := func(ops string) string {
				return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + ops + `]}`
			}
			must(t, e.scim("PATCH", "/Groups/"+g, patch(`{"op":"Add","path":"members","value":[{"$ref":null,"value":"`+alice+`"},{"$ref":null,"value":"`+bob+`"}]}`)), 200, "add")
			wantMembers(t, e, g, "alice@example.com", "bob@example.com")
			u := must(t, e.scim("GET", "/Users/"+alice, ""), 200, "alice").json(t)
			if gs, _ := u["groups"].([]any); len(gs) != 1 || field(gs[0].(map[string]any), "value") != g {
				t.Fatalf("alice's groups = %v, want the group", u["groups"])
			}
			scimError(t, e.scim("PATCH", "/Users/"+alice, patch(`{"op":"add","path":"groups","value":[{"value":"x"}]}`)), 400, "mutability", "groups of a user")
			pv, err := e.svc.Profile(context.Background(), mustUser(t, e, alice))
			if err != nil || pv.User.Team != "Sales-ES" {
				t.Fatalf("alice's effective profile: %+v (%v), want team Sales-ES from the group", pv.User, err)
			}
			must(t, e.scim("PATCH", "/Groups/"+g, patch(`{"op":"Remove","path":"members","value":[{"$ref":null,"value":"`+bob+`"}]}`)), 200, "remove")
			wantMembers(t, e, g, "alice@example.com")
			r = must(t, e.scim("PATCH", "/Groups/"+g, patch(`{"op":"Replace","path":"displayName","value":"Spanish Sales EU"}`)), 200, "rename")
			wantField(t, r.json(t), "Spanish Sales EU", "displayName")

			// A second group with another chat capacity: alice cannot be
			// in both (Flex takes one value).
			other := must(t, e.scim("POST", "/Groups", `{"displayName":"Chat Heavy","urn:flexidp:params:scim:schemas:extension:flex:2.0:Group":
				{"attributes":{"channel.chat.capacity.int":5}}}`), 201, "other").json(t)["id"].(string)
			r = e.scim("PATCH", "/Groups/"+other, patch(`{"op":"Add","path":"members","value":[{"value":"`+alice+`"}]}`))
			scimError(t, r, 409, "", "conflicting membership")
			if !strings.Contains(r.json(t)["detail"].(string), "channel.chat.capacity") {
				t.Fatalf("conflict detail does not name the attribute: %s", r.body)
			}
			wantMembers(t, e, other)
			scimError(t, e.scim("POST", "/Groups", `{"displayName":"chat heavy"}`), 409, "uniqueness", "taken name")
			scimError(t, e.scim("PATCH", "/Groups/"+g, patch(`{"op":"Add","path":"members","value":[{"value":"nobody"}]}`)), 400, "invalidValue", "unknown member")
			scimError(t, e.scim("GET", "/Groups?filter="+url.QueryEscape(`owner eq "x"`), ""), 400, "invalidFilter", "unknown attribute")
			scimError(t, e.scim("PATCH", "/Groups/"+g, patch(`{"op":"Replace","path":"urn:flexidp:params:scim:schemas:extension:flex:2.0:Group:roles","value":["root"]}`)), 400, "invalidValue", "bad role")
		})
	}
}

func mustUser(t *testing.T, e *env, id string) users.User {
	t.Helper()
	u, err := e.svc.FindUser(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
