package scim_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/accounts"
)

// step is one request of a connector's recorded sequence and what must
// hold after it. {id} in path and body is the id of the user created by
// the sequence.
type step struct {
	name, method, path, body string
	status                   int
	check                    func(t *testing.T, e *env, id string, got map[string]any)
}

// runSteps plays steps against a fresh server on each backend.
func runSteps(t *testing.T, steps []step) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.open(t))
			var id string
			for _, s := range steps {
				path := strings.ReplaceAll(s.path, "{id}", id)
				body := strings.ReplaceAll(s.body, "{id}", id)
				r := must(t, e.scim(s.method, path, body), s.status, s.name)
				var got map[string]any
				if len(r.body) > 0 {
					got = r.json(t)
					if v, ok := got["id"].(string); ok && id == "" && s.method == http.MethodPost {
						id = v
					}
				}
				if s.check != nil {
					s.check(t, e, id, got)
				}
			}
		})
	}
}

func field(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

func wantField(t *testing.T, m map[string]any, want any, path ...string) {
	t.Helper()
	if got := field(m, path...); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s = %v, want %v", strings.Join(path, "."), got, want)
	}
}

func total(n int) func(t *testing.T, e *env, id string, got map[string]any) {
	return func(t *testing.T, _ *env, _ string, got map[string]any) {
		t.Helper()
		wantField(t, got, n, "totalResults")
	}
}

// TestOktaSequence replays what Okta's SCIM 2.0 connector sends (Okta's
// "SCIM 2.0 protocol reference"): a look-up by userName, a create with
// externalId, the password it generates and attributes flexidp does not
// have (locale), a replace with PUT, and deactivation as a PATCH without
// path. Every change is audited with the token's name.
func TestOktaSequence(t *testing.T) {
	q := "/Users?filter=" + url.QueryEscape(`userName eq "test.user@okta.local"`) + "&startIndex=1&count=100"
	runSteps(t, []step{
		{name: "look-up before create", method: "GET", path: q, status: 200, check: total(0)},
		{name: "create", method: "POST", path: "/Users", status: 201, body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
			"userName":"test.user@okta.local","name":{"givenName":"Test","familyName":"User"},
			"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],"displayName":"Test User","locale":"en-US",
			"externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true}`,
			check: func(t *testing.T, e *env, id string, got map[string]any) {
				wantField(t, got, "test.user@okta.local", "userName")
				wantField(t, got, "00ujl29u0le5T6Aj10h7", "externalId")
				wantField(t, got, "Test User", "displayName")
				wantField(t, got, true, "active")
				u, err := e.svc.FindUser(context.Background(), id)
				if err != nil || u.PasswordHash != "" || u.GivenName != "Test" || u.ExternalID != "00ujl29u0le5T6Aj10h7" {
					t.Fatalf("stored user %+v (%v): want no password, given name Test, the external ID", u, err)
				}
			}},
		{name: "look-up after create", method: "GET", path: q, status: 200, check: func(t *testing.T, _ *env, id string, got map[string]any) {
			wantField(t, got, 1, "totalResults")
			if r, _ := got["Resources"].([]any); len(r) != 1 || field(r[0].(map[string]any), "id") != id {
				t.Fatalf("Resources = %v, want the user", got["Resources"])
			}
		}},
		{name: "create again", method: "POST", path: "/Users", status: 409, body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"TEST.USER@okta.local"}`},
		{name: "get", method: "GET", path: "/Users/{id}", status: 200},
		{name: "replace", method: "PUT", path: "/Users/{id}", status: 200, body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
			"id":"{id}","userName":"test.user@okta.local","name":{"givenName":"Another","familyName":"User"},
			"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],"displayName":"Another User",
			"externalId":"00ujl29u0le5T6Aj10h7","active":true,
			"urn:flexidp:params:scim:schemas:extension:flex:2.0:User":{"roles":["agent"],"team":"Sales-ES",
			"attributes":{"skills.array":["spanish","sales"],"channel.chat.capacity.int":3}}}`,
			check: func(t *testing.T, _ *env, _ string, got map[string]any) {
				wantField(t, got, "Another", "name", "givenName")
				wantField(t, got, "Sales-ES", "urn:flexidp:params:scim:schemas:extension:flex:2.0:User", "team")
				wantField(t, got, 3, "urn:flexidp:params:scim:schemas:extension:flex:2.0:User", "attributes", "channel.chat.capacity.int")
			}},
		{name: "deactivate", method: "PATCH", path: "/Users/{id}", status: 200, body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"replace","value":{"active":false}}]}`,
			check: func(t *testing.T, e *env, id string, got map[string]any) {
				wantField(t, got, false, "active")
				u, _ := e.svc.FindUser(context.Background(), id)
				if !u.Disabled {
					t.Fatal("user not disabled")
				}
				for _, a := range e.auditActors(id) {
					if a != "okta" {
						t.Fatalf("audit actors %v: want okta only", e.auditActors(id))
					}
				}
				if len(e.auditActors(id)) != 3 {
					t.Fatalf("audit actors %v: want add, replace, disable", e.auditActors(id))
				}
			}},
		{name: "reactivate", method: "PATCH", path: "/Users/{id}", status: 200, body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"replace","value":{"active":true}}]}`,
			check: func(t *testing.T, _ *env, _ string, got map[string]any) { wantField(t, got, true, "active") }},
	})
}

// TestEntraSequence replays what Microsoft Entra ID's provisioning service
// sends (its "SCIM 2.0 protocol compliance" reference): the enterprise
// extension in schemas, top-level roles, a look-up by externalId,
// capitalised ops, emails[type eq "work"].value, "False" as a string, and
// a DELETE that keeps the audit trail.
func TestEntraSequence(t *testing.T) {
	runSteps(t, []step{
		{name: "look-up of a random userName", method: "GET", status: 200, check: total(0),
			path: "/Users?filter=" + url.QueryEscape(`userName eq "5c4b1d56-2a08-4b6b-a0f4-24b4b4f6b1c2"`)},
		{name: "create", method: "POST", path: "/Users", status: 201, body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User",
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
			"userName":"Test_User_ab6490ee@contoso.com","active":true,"emails":[{"primary":true,"type":"work","value":"Test_User_ab6490ee@contoso.com"}],
			"meta":{"resourceType":"User"},"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},
			"roles":[],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}}`,
			check: func(t *testing.T, _ *env, _ string, got map[string]any) {
				wantField(t, got, "givenName familyName", "displayName")
			}},
		{name: "look-up by externalId", method: "GET", status: 200, check: total(1),
			path: "/Users?filter=" + url.QueryEscape(`externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`)},
		{name: "look-up by externalId of another case", method: "GET", status: 200, check: total(0),
			path: "/Users?filter=" + url.QueryEscape(`externalId eq "0A21F0F2-8D2A-4F8E-BF98-7363C4AED4EF"`)},
		{name: "update email and family name", method: "PATCH", path: "/Users/{id}", status: 200, body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@contoso.com"},
			{"op":"Replace","path":"name.familyName","value":"updatedFamilyName"}]}`,
			check: func(t *testing.T, _ *env, _ string, got map[string]any) {
				wantField(t, got, "updatedEmail@contoso.com", "userName")
				wantField(t, got, "updatedFamilyName", "name", "familyName")
			}},
		{name: "Add externalId", method: "PATCH", path: "/Users/{id}", status: 200, body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"Add","path":"externalId","value":"new-external"},{"op":"Add","path":"urn:flexidp:params:scim:schemas:extension:flex:2.0:User:roles","value":["agent"]}]}`,
			check: func(t *testing.T, _ *env, _ string, got map[string]any) {
				wantField(t, got, "new-external", "externalId")
				wantField(t, got, "[agent]", "urn:flexidp:params:scim:schemas:extension:flex:2.0:User", "roles")
			}},
		{name: "disable with a string False", method: "PATCH", path: "/Users/{id}", status: 200, body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
			check: func(t *testing.T, e *env, id string, got map[string]any) {
				wantField(t, got, false, "active")
				_, err := e.svc.SignIn(context.Background(), accounts.SignInRequest{Email: "updatedEmail@contoso.com", Password: "x"})
				if err == nil {
					t.Fatal("a disabled user signed in")
				}
			}},
		{name: "filter on active", method: "GET", status: 200, check: total(1),
			path: "/Users?filter=" + url.QueryEscape(`active eq false and emails.value co "updated"`)},
		{name: "delete", method: "DELETE", path: "/Users/{id}", status: 204, check: func(t *testing.T, e *env, id string, _ map[string]any) {
			if n := len(e.auditActors(id)); n < 5 {
				t.Fatalf("audit trail of the deleted user has %d events, want every change kept", n)
			}
			if _, err := e.svc.FindUser(context.Background(), id); accounts.ErrorCode(err) != accounts.NotFound {
				t.Fatalf("deleted user still found: %v", err)
			}
		}},
		{name: "get after delete", method: "GET", path: "/Users/{id}", status: 404},
		{name: "delete again", method: "DELETE", path: "/Users/{id}", status: 404},
	})
}

// TestDeprovisionedUserCannotSignIn: PATCH active=false ends the user's
// sessions and a correct password is refused as disabled.
func TestDeprovisionedUserCannotSignIn(t *testing.T) {
	e := newEnv(t, backends[0].open(t))
	ctx := context.Background()
	r := must(t, e.scim("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"agent@example.com",
		"urn:flexidp:params:scim:schemas:extension:flex:2.0:User":{"roles":["agent"]}}`), 201, "create")
	id := r.json(t)["id"].(string)
	if _, err := e.svc.SetPassword(ctx, accounts.Actor{Name: "test"}, id, "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SignIn(ctx, accounts.SignInRequest{Email: "agent@example.com", Password: "correct horse battery staple"}); err != nil {
		t.Fatalf("sign-in before: %v", err)
	}
	must(t, e.scim("PATCH", "/Users/"+id, `{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`), 200, "deactivate")
	if _, err := e.svc.SignIn(ctx, accounts.SignInRequest{Email: "agent@example.com", Password: "correct horse battery staple"}); !errors.Is(err, accounts.ErrDisabled) {
		t.Fatalf("sign-in after deprovisioning: %v, want ErrDisabled", err)
	}
}
