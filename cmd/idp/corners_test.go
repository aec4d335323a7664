package main

import (
	"errors"
	"net/http"
	"testing"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
)

// TestSAMLErrorResponses: requests flexidp cannot fulfil for the signed-in
// agent (another Subject, an authentication context stronger than a
// password, a binding other than HTTP-POST) are answered with a signed
// error Response posted to the registered ACS URL, which crewjam's SP (as
// Flex) verifies and reads as that status; no assertion is sent.
func TestSAMLErrorResponses(t *testing.T) {
	e := newTestEnv(t)
	setupFlex(t, e)
	base := e.startServe()
	sp := flexTestSP(t, base)

	// Without a session, a request naming its subject prefills the form.
	redirect, _ := authnRedirect(t, sp, "", func(r *crewjam.AuthnRequest) {
		r.Subject = &crewjam.Subject{NameID: &crewjam.NameID{Value: "sam.supervisor@example.com"}}
	})
	b := newBrowser(t)
	status, page := b.get(redirect)
	if status != http.StatusOK {
		t.Fatalf("SSO with a Subject: status %d\n%s", status, page)
	}
	mustContain(t, page, `value="sam.supervisor@example.com"`)

	page, reqID := b.startSignIn(sp)
	_, page = b.login(base, page, "agent@example.com", password)
	flexAccepts(t, sp, samlForm(t, page), reqID)

	cases := []struct {
		name        string
		edit        func(*crewjam.AuthnRequest)
		top, second string
	}{
		{"another user's Subject", func(r *crewjam.AuthnRequest) {
			r.Subject = &crewjam.Subject{NameID: &crewjam.NameID{Value: "sam.supervisor@example.com"}}
		}, crewjam.StatusRequester, "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal"},
		{"X509 authentication context", func(r *crewjam.AuthnRequest) {
			r.RequestedAuthnContext = &crewjam.RequestedAuthnContext{AuthnContextClassRefs: []string{"urn:oasis:names:tc:SAML:2.0:ac:classes:X509"}}
		}, crewjam.StatusResponder, crewjam.StatusNoAuthnContext},
		{"HTTP-Artifact binding", func(r *crewjam.AuthnRequest) { r.ProtocolBinding = crewjam.HTTPArtifactBinding },
			crewjam.StatusResponder, "urn:oasis:names:tc:SAML:2.0:status:UnsupportedBinding"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			redirect, reqID := authnRedirect(t, sp, "", c.edit)
			_, page := b.get(redirect)
			form := samlForm(t, page)
			if form.action != sp.AcsURL.String() {
				t.Fatalf("error Response posted to %q", form.action)
			}
			_, err := sp.ParseXMLResponse(form.xml, []string{reqID}, sp.AcsURL)
			var ire *crewjam.InvalidResponseError
			var bad crewjam.ErrBadStatus
			if !errors.As(err, &ire) || !errors.As(ire.PrivateErr, &bad) || bad.Status != c.top {
				t.Fatalf("crewjam's SP reads %v, want the status %s\n%s", err, c.top, form.xml)
			}
			d := etree.NewDocument()
			if err := d.ReadFromBytes(form.xml); err != nil {
				t.Fatal(err)
			}
			if got := d.FindElement("//StatusCode/StatusCode").SelectAttrValue("Value", ""); got != c.second || d.FindElement("//Assertion") != nil {
				t.Fatalf("second-level status %q (want %s), or an assertion was sent", got, c.second)
			}
		})
	}

	redirect, reqID = authnRedirect(t, sp, "", func(r *crewjam.AuthnRequest) {
		r.Subject = &crewjam.Subject{NameID: &crewjam.NameID{Value: "agent@example.com"}}
		r.RequestedAuthnContext = &crewjam.RequestedAuthnContext{Comparison: "minimum",
			AuthnContextClassRefs: []string{"urn:oasis:names:tc:SAML:2.0:ac:classes:Password"}}
	})
	_, page = b.get(redirect)
	a := flexAccepts(t, sp, samlForm(t, page), reqID)
	if a.Subject.NameID.Value != "agent@example.com" || len(a.AuthnStatements) != 1 ||
		a.AuthnStatements[0].AuthnContext.AuthnContextClassRef.Value != "urn:oasis:names:tc:SAML:2.0:ac:classes:Password" {
		t.Fatalf("assertion about %s with %+v", a.Subject.NameID.Value, a.AuthnStatements)
	}
}
