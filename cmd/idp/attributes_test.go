package main

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// TestReleasedAttributesEndToEnd: a user with channel capacities, Insights
// fields and custom typed attributes signs in, and the Response carries
// exactly the released set, as the SP's policy says, checked by two SP
// implementations.
func TestReleasedAttributesEndToEnd(t *testing.T) {
	e := newTestEnv(t)
	setupFlex(t, e)
	e.cli("", "users", "set-attr", "--email", "agent@example.com",
		"channel.chat.capacity=3", "channel.voice.availability=false", "department=Support",
		"team_name_in_hierarchy=London,Sales,VIP", "skills.intarray=1,2,3,4", "sales.boolean=TRUE",
		"languages.stringarray=en,de,fr", "contact_uri=sip:alex@pbx.example.com")
	// A value Flex would refuse is refused at write time, naming the
	// attribute, the type and the value, and nothing is written.
	out := e.cliWant(1, "", "users", "set-attr", "--email", "agent@example.com", "skill.int=1.23", "department=Ops")
	for _, s := range []string{"skill.int", "int", "1.23"} {
		if !strings.Contains(out, s) {
			t.Fatalf("error %q does not name %q", out, s)
		}
	}
	out = e.cli("", "users", "show", "--email", "agent@example.com")
	if !strings.Contains(out, "Support") || strings.Contains(out, "Ops") {
		t.Fatalf("a refused set-attr wrote something:\n%s", out)
	}
	e.cli("", "sp", "set", "--sp", "flex", "--static", "location=London", "--withhold", "contact_uri")

	// The preview shows what Flex will get, without signing in.
	preview := e.cli("", "users", "preview", "--email", "agent@example.com", "--sp", "flex")
	for _, s := range []string{`"3"`, `"1,2,3,4"`, `"true"`, "location", "London"} {
		if !strings.Contains(preview, s) {
			t.Fatalf("preview lacks %s:\n%s", s, preview)
		}
	}
	if strings.Contains(preview, "contact_uri") {
		t.Fatalf("preview shows a withheld attribute:\n%s", preview)
	}

	base := e.startServe()
	sp := flexTestSP(t, base)
	b := newBrowser(t)
	page, reqID := b.startSignIn(sp)
	status, body := b.login(base, page, "agent@example.com", password)
	if status != http.StatusOK {
		t.Fatalf("login: %d\n%s", status, body)
	}
	form := samlForm(t, body)
	assertion := flexAccepts(t, sp, form, reqID)
	want := map[string][]string{
		"email":                      {"agent@example.com"},
		"full_name":                  {"Alex Agent"},
		"roles":                      {"agent"},
		"image_url":                  {"https://example.com/alex.png"},
		"channel.chat.capacity":      {"3"},
		"channel.voice.availability": {"false"},
		"department":                 {"Support"},
		"team_name_in_hierarchy":     {"London,Sales,VIP"},
		"skills.intarray":            {"1,2,3,4"},
		"sales.boolean":              {"true"},
		"languages.stringarray":      {"en,de,fr"},
		"location":                   {"London"},
	}
	if got := attrValues(assertion); !reflect.DeepEqual(got, want) {
		t.Fatalf("released attributes\n got %v\nwant %v", got, want)
	}
	ol := verifyWithOneLogin(t, form.xml, getBody(t, base+"/saml/certificate.pem"), base+"/saml/metadata", flexACS, reqID)
	if ol.Attributes != nil && !reflect.DeepEqual(ol.Attributes, want) {
		t.Fatalf("python3-saml read attributes %v, want %v", ol.Attributes, want)
	}
}

// TestPolicyPatternBAndAssignment: Pattern B withholds team and program,
// sends roles multi-valued and a persistent NameID; with assignment
// required an unassigned user gets a clear page, not a Response.
func TestPolicyPatternBAndAssignment(t *testing.T) {
	e := newTestEnv(t)
	setupFlex(t, e)
	e.cli("", "sp", "set", "--sp", "flex", "--withhold", "team,program", "--roles-format", "multi",
		"--name-id", "persistent", "--assignment-required")
	// A policy that would break Flex is refused.
	e.cliWant(1, "", "sp", "set", "--sp", "flex", "--withhold", "roles")
	e.cliWant(1, "", "sp", "set", "--sp", "flex", "--session-not-on-or-after", "30m")
	out := e.cliWant(1, "", "users", "update", "--email", "agent@example.com", "--roles", "superviser")
	if !strings.Contains(out, `did you mean "supervisor"`) {
		t.Fatalf("unknown role error lacks a suggestion: %s", out)
	}

	base := e.startServe()
	sp := flexTestSP(t, base)
	b := newBrowser(t)
	page, _ := b.startSignIn(sp)
	status, body := b.login(base, page, "sam.supervisor@example.com", password)
	if status != http.StatusForbidden || strings.Contains(body, "SAMLResponse") {
		t.Fatalf("unassigned user: status %d, want 403 without a Response\n%s", status, body)
	}
	mustContain(t, body, "not assigned")
	// The preview says so too, and still shows what assignment would release.
	preview := e.cli("", "users", "preview", "--email", "sam.supervisor@example.com", "--sp", "flex")
	mustContain(t, preview, "the user is not assigned to it: the sign-in would be refused")
	mustContain(t, preview, "NameID")

	e.cli("", "sp", "assign", "--sp", "flex", "--email", "sam.supervisor@example.com")
	if preview := e.cli("", "users", "preview", "--email", "sam.supervisor@example.com", "--sp", "flex"); strings.Contains(preview, "not assigned") {
		t.Fatalf("preview of an assigned user warns:\n%s", preview)
	}
	redirect, reqID := authnRedirect(t, sp, "", nil)
	status, body = b.get(redirect) // the session exists: no prompt
	if status != http.StatusOK {
		t.Fatalf("assigned user: %d\n%s", status, body)
	}
	form := samlForm(t, body)
	assertion := flexAccepts(t, sp, form, reqID)
	attrs := attrValues(assertion)
	if _, ok := attrs["team"]; ok {
		t.Error("team released despite withhold")
	}
	if got := attrs["roles"]; !reflect.DeepEqual(got, []string{"supervisor", "agent"}) {
		t.Errorf("roles = %q, want two values", got)
	}
	nid := assertion.Subject.NameID
	if nid.Format != "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" || strings.Contains(nid.Value, "@") ||
		nid.NameQualifier != base+"/saml/metadata" || nid.SPNameQualifier != "urn:flex:"+flexConn {
		t.Errorf("NameID = %+v, want the persistent user ID qualified by both entities", nid)
	}
	verifyWithOneLogin(t, form.xml, getBody(t, base+"/saml/certificate.pem"), base+"/saml/metadata", flexACS, reqID)
}
