package scim_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/store"
)

const newUserBody = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"agent@example.com",
	"urn:flexidp:params:scim:schemas:extension:flex:2.0:User":{"roles":["agent"]}}`

// TestTokenRefusals: no token, a wrong, revoked or expired one gets 401
// with a SCIM error that says nothing more; a token without the scim
// scope gets 403 and changes nothing.
func TestTokenRefusals(t *testing.T) {
	e := newEnv(t, backends[0].open(t))
	ctx := context.Background()
	id := must(t, e.scim("POST", "/Users", newUserBody), 201, "create").json(t)["id"].(string)
	readOnly := e.newToken("reader", accounts.ScopeUsersRead, accounts.ScopeAuditRead)
	revoked := e.newToken("old", accounts.ScopeSCIM)
	if _, err := e.svc.RevokeToken(ctx, accounts.Actor{Name: "test"}, "old"); err != nil {
		t.Fatal(err)
	}
	before := e.auditActors(id)

	for _, c := range []struct{ name, token string }{
		{"none", ""}, {"garbage", "hello"}, {"wrong secret", e.token[:len(e.token)-3] + "abc"}, {"revoked", revoked},
	} {
		r := e.do(c.token, "PATCH", "/scim/v2/Users/"+id, `{"Operations":[{"op":"replace","path":"active","value":false}]}`)
		scimError(t, r, http.StatusUnauthorized, "", c.name)
		if d := r.json(t)["detail"]; d != "The API token is missing or not valid." {
			t.Fatalf("%s: detail %q says more than that the token is not valid", c.name, d)
		}
		if r.header.Get("WWW-Authenticate") == "" {
			t.Fatalf("%s: no WWW-Authenticate", c.name)
		}
	}
	for _, c := range []struct{ method, path, body string }{
		{"PATCH", "/Users/" + id, `{"Operations":[{"op":"replace","path":"active","value":false}]}`},
		{"DELETE", "/Users/" + id, ""},
		{"POST", "/Users", strings.Replace(newUserBody, "agent@", "other@", 1)},
		{"GET", "/Users", ""},
	} {
		scimError(t, e.do(readOnly, c.method, "/scim/v2"+c.path, c.body), http.StatusForbidden, "", "wrong scope "+c.method)
	}
	u, err := e.svc.FindUser(ctx, id)
	if err != nil || u.Disabled {
		t.Fatalf("after refused requests: %+v, %v; want the user unchanged", u, err)
	}
	if n, _ := e.st.CountUsers(ctx, store.UserFilter{}); n != 1 {
		t.Fatalf("%d users after a refused create, want 1", n)
	}
	if after := e.auditActors(id); len(after) != len(before) {
		t.Fatalf("audit events %v -> %v: a refused request changed something", before, after)
	}
}

// TestSCIMErrors: bad input of every kind is a SCIM 400 (or 404, 409,
// 413) with a scimType and a sentence, never a 500.
func TestSCIMErrors(t *testing.T) {
	e := newEnv(t, backends[0].open(t))
	id := must(t, e.scim("POST", "/Users", newUserBody), 201, "create").json(t)["id"].(string)
	patch := func(ops string) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + ops + `]}`
	}
	filter := func(f string) string { return "/Users?filter=" + url.QueryEscape(f) }
	for _, c := range []struct {
		name, method, path, body string
		status                   int
		scimType                 string
	}{
		{"unknown filter attribute", "GET", filter(`title eq "x"`), "", 400, "invalidFilter"},
		{"malformed filter", "GET", filter(`userName eq`), "", 400, "invalidFilter"},
		{"deep filter", "GET", filter(strings.Repeat("(", 200) + `userName eq "a"` + strings.Repeat(")", 200)), "", 400, "invalidFilter"},
		{"huge filter", "GET", filter(`userName eq "` + strings.Repeat("x", 5000) + `"`), "", 400, "invalidFilter"},
		{"filter in .search", "POST", "/Users/.search", `{"filter":"nope nope"}`, 400, "invalidFilter"},
		{"bad count", "GET", "/Users?count=many", "", 400, "invalidValue"},
		{"not JSON", "POST", "/Users", `{"userName":`, 400, "invalidSyntax"},
		{"wrong type", "POST", "/Users", `{"userName":["a"]}`, 400, "invalidValue"},
		{"no userName", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}`, 400, "invalidValue"},
		{"bad email", "POST", "/Users", `{"userName":"not an email"}`, 400, "invalidValue"},
		{"look-alike email", "POST", "/Users", `{"userName":"\u0430gent@example.com"}`, 400, "invalidValue"},
		{"bad Flex attribute", "POST", "/Users", `{"userName":"x@example.com","urn:flexidp:params:scim:schemas:extension:flex:2.0:User":{"attributes":{"skills.intarray":["a"]}}}`, 400, "invalidValue"},
		{"reserved Flex attribute", "POST", "/Users", `{"userName":"x@example.com","urn:flexidp:params:scim:schemas:extension:flex:2.0:User":{"attributes":{"email":"a@b.c"}}}`, 400, "invalidValue"},
		{"bad role", "POST", "/Users", `{"userName":"x@example.com","urn:flexidp:params:scim:schemas:extension:flex:2.0:User":{"roles":["root"]}}`, 400, "invalidValue"},
		{"bad active", "POST", "/Users", `{"userName":"x@example.com","active":"maybe"}`, 400, "invalidValue"},
		{"wrong schema", "POST", "/Users", `{"schemas":["urn:x"],"userName":"x@example.com"}`, 400, "invalidValue"},
		{"taken", "POST", "/Users", newUserBody, 409, "uniqueness"},
		{"PUT another id", "PUT", "/Users/" + id, `{"id":"other","userName":"agent@example.com"}`, 400, "mutability"},
		{"unknown user", "GET", "/Users/nope", "", 404, ""},
		{"patch unknown user", "PATCH", "/Users/nope", patch(`{"op":"replace","path":"active","value":false}`), 404, ""},
		{"patch bad op", "PATCH", "/Users/" + id, patch(`{"op":"move","path":"active","value":false}`), 400, "invalidSyntax"},
		{"patch no ops", "PATCH", "/Users/" + id, patch(``), 400, "invalidSyntax"},
		{"patch unknown path", "PATCH", "/Users/" + id, patch(`{"op":"replace","path":"title","value":"x"}`), 400, "invalidPath"},
		{"patch bad path", "PATCH", "/Users/" + id, patch(`{"op":"replace","path":"emails[type eq","value":"x"}`), 400, "invalidPath"},
		{"patch id", "PATCH", "/Users/" + id, patch(`{"op":"replace","path":"id","value":"x"}`), 400, "mutability"},
		{"patch remove userName", "PATCH", "/Users/" + id, patch(`{"op":"remove","path":"userName"}`), 400, "mutability"},
		{"patch no target", "PATCH", "/Users/" + id, patch(`{"op":"replace","path":"emails[value co \"zzz\"].type","value":"home"}`), 400, "noTarget"},
		{"patch remove without path", "PATCH", "/Users/" + id, patch(`{"op":"remove"}`), 400, "noTarget"},
		{"patch no-path scalar", "PATCH", "/Users/" + id, patch(`{"op":"replace","value":"x"}`), 400, "invalidValue"},
		{"patch bad boolean", "PATCH", "/Users/" + id, patch(`{"op":"replace","path":"active","value":"Nope"}`), 400, "invalidValue"},
		{"patch bad email", "PATCH", "/Users/" + id, patch(`{"op":"replace","path":"userName","value":"nope"}`), 400, "invalidValue"},
		{"too many ops", "PATCH", "/Users/" + id, patch(strings.TrimSuffix(strings.Repeat(`{"op":"add","path":"displayName","value":"x"},`, 1001), ",")), 400, "tooMany"},
		{"body too large", "POST", "/Users", `{"userName":"` + strings.Repeat("a", 2<<20) + `"}`, 413, ""},
		{"unknown endpoint", "GET", "/Widgets", "", 404, ""},
		{"method", "DELETE", "/Users", "", 405, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			scimError(t, e.scim(c.method, c.path, c.body), c.status, c.scimType, c.name)
		})
	}
	// Nothing above changed the user.
	u, err := e.svc.FindUser(context.Background(), id)
	if err != nil || u.Email != "agent@example.com" || u.Disabled || len(u.Roles) != 1 {
		t.Fatalf("user after refused requests: %+v, %v", u, err)
	}
}
