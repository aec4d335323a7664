package server_test

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/sp"
)

// TestReleasedAttributesEndToEnd: a user with channel capacities, Insights
// fields and custom typed attributes signs in, and the Response carries
// exactly the released set, as the SP's policy says, checked by two SP
// implementations.
func TestReleasedAttributesEndToEnd(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	if err := h.setAttrs("agent@example.com",
		"channel.chat.capacity=3", "channel.voice.availability=false", "department=Support",
		"team_name_in_hierarchy=London,Sales,VIP", "skills.intarray=1,2,3,4", "sales.boolean=TRUE",
		"languages.stringarray=en,de,fr", "contact_uri=sip:alex@pbx.example.com"); err != nil {
		t.Fatal(err)
	}
	location, err := attributes.SetOf("location", "London")
	if err != nil {
		t.Fatal(err)
	}
	h.updateSP(t, func(p *sp.ServiceProvider) { p.Policy.Static, p.Policy.Withhold = location, []string{"contact_uri"} })

	base := h.URL
	sp := samltest.FlexSP(t, base)
	b := samltest.NewBrowser(t)
	page, reqID := b.StartSignIn(sp)
	status, body := b.Login(base, page, "agent@example.com", password)
	samltest.WantStatus(t, "login", status, http.StatusOK, body)
	form := samltest.Form(t, body)
	assertion := samltest.Accepts(t, sp, form, reqID)
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
	if got := samltest.Values(assertion); !reflect.DeepEqual(got, want) {
		t.Fatalf("released attributes\n got %v\nwant %v", got, want)
	}
	ol := samltest.VerifyWithOneLogin(t, form.XML, h.certificate(t), base+"/saml/metadata", samltest.FlexACS, reqID)
	if !reflect.DeepEqual(ol.Attributes, want) {
		t.Fatalf("python3-saml read attributes %v, want %v", ol.Attributes, want)
	}
}

// TestPolicyPatternBAndAssignment: Pattern B withholds team and program,
// sends roles multi-valued and a persistent NameID; with assignment
// required an unassigned user gets a clear page, not a Response. A policy
// that would break Flex is refused.
func TestPolicyPatternBAndAssignment(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	ctx := context.Background()
	h.updateSP(t, func(p *sp.ServiceProvider) {
		p.Policy.Withhold, p.Policy.RolesFormat, p.Policy.NameID = []string{"team", "program"}, attributes.RolesMulti, "persistent"
		p.AssignmentRequired = true
	})
	for name, change := range map[string]func(*sp.ServiceProvider){
		"withhold roles":               func(p *sp.ServiceProvider) { p.Policy.Withhold = []string{"roles"} },
		"SessionNotOnOrAfter under 1h": func(p *sp.ServiceProvider) { p.SessionNotOnOrAfter = 30 * time.Minute },
	} {
		_, err := h.Accounts.UpdateSP(ctx, admin, "flex", func(p *sp.ServiceProvider) error { change(p); return nil })
		if accounts.ErrorCode(err) != accounts.Invalid {
			t.Errorf("%s: %v, want refused as invalid", name, err)
		}
	}

	base := h.URL
	sp := samltest.FlexSP(t, base)
	b := samltest.NewBrowser(t)
	page, _ := b.StartSignIn(sp)
	status, body := b.Login(base, page, "sam.supervisor@example.com", password)
	if status != http.StatusForbidden || strings.Contains(body, "SAMLResponse") {
		t.Fatalf("unassigned user: status %d, want 403 without a Response\n%s", status, body)
	}
	samltest.MustContain(t, body, "not assigned")

	if err := h.Accounts.Assign(ctx, admin, "sam.supervisor@example.com", "flex", true); err != nil {
		t.Fatal(err)
	}
	redirect, reqID := samltest.AuthnRedirect(t, sp, "", nil)
	status, body = b.Get(redirect) // the session exists: no prompt
	samltest.WantStatus(t, "assigned user", status, http.StatusOK, body)
	form := samltest.Form(t, body)
	assertion := samltest.Accepts(t, sp, form, reqID)
	attrs := samltest.Values(assertion)
	if _, ok := attrs["team"]; ok {
		t.Error("team released despite withhold")
	}
	if got := attrs["roles"]; !reflect.DeepEqual(got, []string{"supervisor", "agent"}) {
		t.Errorf("roles = %q, want two values", got)
	}
	nid := assertion.Subject.NameID
	if nid.Format != "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" || strings.Contains(nid.Value, "@") ||
		nid.NameQualifier != base+"/saml/metadata" || nid.SPNameQualifier != samltest.FlexAudience {
		t.Errorf("NameID = %+v, want the persistent user ID qualified by both entities", nid)
	}
	samltest.VerifyWithOneLogin(t, form.XML, h.certificate(t), base+"/saml/metadata", samltest.FlexACS, reqID)
}
