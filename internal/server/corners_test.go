package server_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"

	"github.com/flexidp/flexidp/internal/samltest"
)

// TestSAMLErrorResponses: requests flexidp cannot fulfil for the signed-in
// agent (another Subject, an authentication context stronger than a
// password, a binding other than HTTP-POST) are answered with a signed
// error Response posted to the registered ACS URL, which crewjam's SP (as
// Flex) verifies and reads as that status; no assertion is sent.
func TestSAMLErrorResponses(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	base := h.URL
	sp := samltest.FlexSP(t, base)

	// Without a session, a request naming its subject prefills the form.
	redirect, _ := samltest.AuthnRedirect(t, sp, "", func(r *crewjam.AuthnRequest) {
		r.Subject = &crewjam.Subject{NameID: &crewjam.NameID{Value: "sam.supervisor@example.com"}}
	})
	b := samltest.NewBrowser(t)
	status, page := b.Get(redirect)
	samltest.WantStatus(t, "SSO with a Subject", status, http.StatusOK, page)
	samltest.MustContain(t, page, `value="sam.supervisor@example.com"`)

	page, reqID := b.StartSignIn(sp)
	_, page = b.Login(base, page, "agent@example.com", password)
	samltest.Accepts(t, sp, samltest.Form(t, page), reqID)

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
			redirect, reqID := samltest.AuthnRedirect(t, sp, "", c.edit)
			_, page := b.Get(redirect)
			form := samltest.Form(t, page)
			if form.Action != sp.AcsURL.String() {
				t.Fatalf("error Response posted to %q", form.Action)
			}
			_, err := sp.ParseXMLResponse(form.XML, []string{reqID}, sp.AcsURL)
			var ire *crewjam.InvalidResponseError
			var bad crewjam.ErrBadStatus
			if !errors.As(err, &ire) || !errors.As(ire.PrivateErr, &bad) || bad.Status != c.top {
				t.Fatalf("crewjam's SP reads %v, want the status %s\n%s", err, c.top, form.XML)
			}
			d := etree.NewDocument()
			if err := d.ReadFromBytes(form.XML); err != nil {
				t.Fatal(err)
			}
			if got := d.FindElement("//StatusCode/StatusCode").SelectAttrValue("Value", ""); got != c.second || d.FindElement("//Assertion") != nil {
				t.Fatalf("second-level status %q (want %s), or an assertion was sent", got, c.second)
			}
		})
	}

	redirect, reqID = samltest.AuthnRedirect(t, sp, "", func(r *crewjam.AuthnRequest) {
		r.Subject = &crewjam.Subject{NameID: &crewjam.NameID{Value: "agent@example.com"}}
		r.RequestedAuthnContext = &crewjam.RequestedAuthnContext{Comparison: "minimum",
			AuthnContextClassRefs: []string{"urn:oasis:names:tc:SAML:2.0:ac:classes:Password"}}
	})
	_, page = b.Get(redirect)
	a := samltest.Accepts(t, sp, samltest.Form(t, page), reqID)
	if a.Subject.NameID.Value != "agent@example.com" || len(a.AuthnStatements) != 1 ||
		a.AuthnStatements[0].AuthnContext.AuthnContextClassRef.Value != "urn:oasis:names:tc:SAML:2.0:ac:classes:Password" {
		t.Fatalf("assertion about %s with %+v", a.Subject.NameID.Value, a.AuthnStatements)
	}
}
