package scim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/scim"
	"github.com/flexidp/flexidp/internal/store"
)

// openAPIDoc is the embedded document as the server serves it.
func openAPIDoc(t *testing.T, e *env) map[string]any {
	t.Helper()
	r := must(t, e.do("", "GET", "/api/v1/openapi.json", ""), 200, "openapi.json")
	return r.json(t)
}

// TestOpenAPIDescribesEveryRoute: every route of the real API router is
// in the OpenAPI document with exactly its methods, and the document
// describes no route the router lacks.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	e := newEnv(t, backends[0].open(t))
	doc := openAPIDoc(t, e)
	documented := map[string]bool{}
	for path, ops := range doc["paths"].(map[string]any) {
		for method := range ops.(map[string]any) {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	routed := map[string]bool{}
	h := scim.New(scim.Config{Accounts: e.svc})
	err := chi.Walk(h.API().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routed[method+" "+strings.TrimSuffix(route, "/")] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for r := range routed {
		if !documented[r] {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for d := range documented {
		if !routed[d] {
			t.Errorf("openapi.json describes %s, which the router does not serve", d)
		}
	}
	if len(routed) < 8 {
		t.Fatalf("walked %d routes, want every API route", len(routed))
	}
}

// TestAPIResponsesMatchOpenAPI calls every route of the real handlers
// and validates each response (successes and errors) against the schema
// the document gives for its status.
func TestAPIResponsesMatchOpenAPI(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.open(t))
			doc := openAPIDoc(t, e)
			all := e.newToken("admin-script", accounts.Scopes...)
			auditOnly := e.newToken("auditor", accounts.ScopeAuditRead)
			ctx := context.Background()
			if _, err := e.svc.AddKey(ctx, accounts.Actor{Name: "test"}, nil, "idp.example.com"); err != nil {
				t.Fatal(err)
			}
			must(t, e.scim("POST", "/Users", newUserBody), 201, "user")
			spBody := `{"name":"flex","display_name":"Flex","entity_id":"urn:flex:JQ0123456789abcdef0123456789abcdef",
				"acs_urls":["https://iam.twilio.com/v2/saml2/authenticate/JQ0123456789abcdef0123456789abcdef"],
				"policy":{"static":{"department":"Sales"}}}`
			for _, c := range []struct {
				token, method, path, docPath, body string
				status                             int
			}{
				{all, "POST", "/service-providers", "/service-providers", spBody, 201},
				{all, "POST", "/service-providers", "/service-providers", spBody, 409},
				{all, "POST", "/service-providers", "/service-providers", `{"name":"bad name!","entity_id":"x","acs_urls":["ftp://x"]}`, 400},
				{all, "GET", "/service-providers", "/service-providers", "", 200},
				{all, "GET", "/service-providers/flex", "/service-providers/{name}", "", 200},
				{all, "GET", "/service-providers/nope", "/service-providers/{name}", "", 404},
				{all, "PUT", "/service-providers/flex", "/service-providers/{name}", strings.Replace(spBody, `"Flex"`, `"Flex EU"`, 1), 200},
				{all, "GET", "/keys", "/keys", "", 200},
				{all, "GET", "/audit?action=admin&limit=5", "/audit", "", 200},
				{all, "GET", "/audit?since=yesterday", "/audit", "", 400},
				{all, "GET", "/users/agent@example.com/preview?sp=flex", "/users/{user}/preview", "", 200},
				{all, "GET", "/users/nobody@example.com/preview?sp=flex", "/users/{user}/preview", "", 404},
				{auditOnly, "GET", "/keys", "/keys", "", 403},
				{auditOnly, "DELETE", "/service-providers/flex", "/service-providers/{name}", "", 403},
				{"", "GET", "/keys", "/keys", "", 401},
				{all, "DELETE", "/service-providers/flex", "/service-providers/{name}", "", 204},
			} {
				name := fmt.Sprintf("%s %s -> %d", c.method, c.path, c.status)
				r := must(t, e.do(c.token, c.method, "/api/v1"+c.path, c.body), c.status, name)
				op, _ := field(doc, "paths", c.docPath, strings.ToLower(c.method)).(map[string]any)
				if op == nil {
					t.Fatalf("%s: not documented", name)
				}
				resp, _ := field(op, "responses", fmt.Sprint(c.status)).(map[string]any)
				if resp == nil {
					t.Fatalf("%s: status %d not documented", name, c.status)
				}
				resp = resolve(doc, resp)
				schema := field(resp, "content", "application/json", "schema")
				if schema == nil {
					if len(r.body) != 0 {
						t.Fatalf("%s: documented without a body, got %s", name, r.body)
					}
					continue
				}
				var body any
				if err := json.Unmarshal(r.body, &body); err != nil {
					t.Fatalf("%s: not JSON: %s", name, r.body)
				}
				if err := validate(doc, schema.(map[string]any), body, "body"); err != nil {
					t.Fatalf("%s: %v\n%s", name, err, r.body)
				}
			}
			// The refused delete changed nothing; the allowed one is
			// audited with the token's name.
			evs, err := e.st.ListAudit(ctx, store.AuditFilter{Action: "admin.sp"})
			if err != nil {
				t.Fatal(err)
			}
			var actions []string
			for _, ev := range evs {
				actions = append(actions, ev.Action+" by "+ev.Actor)
			}
			want := []string{"admin.sp.remove by admin-script", "admin.sp.set by admin-script", "admin.sp.add by admin-script"}
			if !slices.Equal(actions, want) {
				t.Fatalf("SP audit trail %v, want %v", actions, want)
			}
		})
	}
}

func resolve(doc, m map[string]any) map[string]any {
	for {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		var v any = doc
		for _, p := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			v = v.(map[string]any)[p]
		}
		m = v.(map[string]any)
	}
}

// validate is a small JSON Schema check (the subset openapi.json uses):
// type, required, properties (and no property it does not describe),
// items, enum, date-time.
func validate(doc, schema map[string]any, v any, at string) error {
	schema = resolve(doc, schema)
	switch schema["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %T", at, v)
		}
		props, _ := schema["properties"].(map[string]any)
		for _, r := range asStrings(schema["required"]) {
			if _, ok := m[r]; !ok {
				return fmt.Errorf("%s: required %q missing", at, r)
			}
		}
		for k, x := range m {
			p, ok := props[k].(map[string]any)
			if !ok {
				if props != nil {
					return fmt.Errorf("%s: %q is not documented", at, k)
				}
				continue
			}
			if err := validate(doc, p, x, at+"."+k); err != nil {
				return err
			}
		}
	case "array":
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: want an array, got %T", at, v)
		}
		for i, x := range list {
			if err := validate(doc, schema["items"].(map[string]any), x, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case "string":
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: want a string, got %T", at, v)
		}
		if schema["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339, s); err != nil {
				return fmt.Errorf("%s: %q is not a date-time", at, s)
			}
		}
		if enum := asStrings(schema["enum"]); enum != nil && !slices.Contains(enum, s) {
			return fmt.Errorf("%s: %q not in %v", at, s, enum)
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != float64(int64(f)) {
			return fmt.Errorf("%s: want an integer, got %v", at, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: want a boolean, got %T", at, v)
		}
	}
	return nil
}

func asStrings(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		out = append(out, x.(string))
	}
	return out
}

// TestOpenAPIFileIsEmbedded: the served document is the file in the
// repository (no stale copy).
func TestOpenAPIFileIsEmbedded(t *testing.T) {
	e := newEnv(t, backends[0].open(t))
	file, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := e.do("", "GET", "/api/v1/openapi.json", ""); string(got.body) != string(file) {
		t.Fatal("served openapi.json differs from the file")
	}
}
