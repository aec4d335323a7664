package saml_test

import (
	"errors"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/saml"
)

const (
	acPPT      = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
	acPassword = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"
	acUnspec   = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
	acX509     = "urn:oasis:names:tc:SAML:2.0:ac:classes:X509"
	acIP       = "urn:oasis:names:tc:SAML:2.0:ac:classes:InternetProtocol"
	acREFEDS   = "https://refeds.org/profile/mfa"

	statusNoAuthnContext     = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"
	statusUnknownPrincipal   = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal"
	statusUnsupportedBinding = "urn:oasis:names:tc:SAML:2.0:status:UnsupportedBinding"
)

var agent = attributes.Released{NameID: "a@example.com", NameIDFormat: attributes.NameIDFormatEmail,
	Attributes: []attributes.Attribute{{Name: "email", Values: []string{"a@example.com"}}}}

// answer parses the AuthnRequest built with edit and answers it for agent:
// a StatusError from ParseRequest is answered with RespondError, as the web
// layer does. It returns the signed Response document, checked as an SP
// would (signature, InResponseTo), and the status it carries.
func answer(t *testing.T, idp *saml.IdP, edit func(*crewjam.AuthnRequest)) (*etree.Document, *saml.StatusError) {
	t.Helper()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	hr, id := authnRequest(t, now, "", edit)
	req, s, err := idp.ParseRequest(hr, lookup(testSP))
	var se *saml.StatusError
	var resp *saml.Response
	switch {
	case errors.As(err, &se) && req != nil:
		resp, err = idp.RespondError(req, s, se)
	case err != nil:
		t.Fatalf("ParseRequest: %v", err)
	default:
		resp, err = idp.Respond(req, s, agent, saml.Grant{SessionIndex: "_i", AuthnInstant: now})
		errors.As(err, &se)
	}
	if resp == nil {
		t.Fatalf("no Response: %v", err)
	}
	d := etree.NewDocument()
	if err := d.ReadFromBytes(resp.XML); err != nil {
		t.Fatal(err)
	}
	verifySignature(t, d.Root(), idp.Keys().Certificate)
	if d.Root().SelectAttrValue("InResponseTo", "") != id || resp.ACSURL != testACS {
		t.Fatalf("Response does not answer %s at the registered ACS: %s", id, resp.ACSURL)
	}
	if se != nil {
		if d.FindElement("//Assertion") != nil {
			t.Fatal("error Response carries an assertion")
		}
		if got := d.FindElement("//StatusCode/StatusCode").SelectAttrValue("Value", ""); got != se.Second {
			t.Fatalf("second-level status %q, StatusError says %q", got, se.Second)
		}
	}
	return d, se
}

// TestRequestedAuthnContext: flexidp states PasswordProtectedTransport
// (over https), Password or unspecified, whichever satisfies the
// RequestedAuthnContext under its Comparison (saml-core §3.3.2.2.1), and
// answers NoAuthnContext when none does, instead of a password assertion.
func TestRequestedAuthnContext(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	https, _ := newTestIdP(t, now)
	key, cert := selfSigned(t, "idp", now)
	http, err := saml.New(saml.Config{EntityID: testEntity, SSOURL: testSSO, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	http.SetKeys(&saml.KeySet{ID: "k", Signer: key, Certificate: cert})
	cases := []struct {
		name       string
		idp        *saml.IdP
		comparison string
		classes    []string
		want       string // asserted class, or "" for NoAuthnContext
	}{
		{"none requested", https, "", nil, acPPT},
		{"exact PasswordProtectedTransport", https, "exact", []string{acPPT}, acPPT},
		{"exact Password over https", https, "exact", []string{acPassword}, acPassword},
		{"exact unspecified", https, "exact", []string{acUnspec}, acUnspec},
		{"exact X509", https, "exact", []string{acX509}, ""},
		{"comparison absent means exact", https, "", []string{acX509}, ""},
		{"exact, first satisfiable in order", https, "", []string{acREFEDS, acPassword, acPPT}, acPassword},
		{"exact MFA", https, "exact", []string{acREFEDS}, ""},
		{"minimum Password", https, "minimum", []string{acPassword}, acPPT},
		{"minimum X509", https, "minimum", []string{acX509}, ""},
		{"minimum unranked class", https, "minimum", []string{acREFEDS}, ""},
		{"maximum X509", https, "maximum", []string{acX509}, acPPT},
		{"maximum Password", https, "maximum", []string{acPassword}, acPassword},
		{"maximum InternetProtocol", https, "maximum", []string{acIP}, ""},
		{"better Password", https, "better", []string{acPassword}, acPPT},
		{"better PasswordProtectedTransport", https, "better", []string{acPPT}, ""},
		{"better unspecified", https, "better", []string{acUnspec}, ""},
		{"http: none requested", http, "", nil, acPassword},
		{"http: exact PasswordProtectedTransport", http, "exact", []string{acPPT}, ""},
		{"http: minimum Password", http, "minimum", []string{acPassword}, acPassword},
		{"http: better Password", http, "better", []string{acPassword}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, se := answer(t, c.idp, func(r *crewjam.AuthnRequest) {
				if c.classes != nil {
					r.RequestedAuthnContext = &crewjam.RequestedAuthnContext{Comparison: c.comparison, AuthnContextClassRefs: c.classes}
				}
			})
			if c.want == "" {
				if se == nil || se.Status != saml.StatusResponder || se.Second != statusNoAuthnContext {
					t.Fatalf("status %+v, want Responder/NoAuthnContext", se)
				}
				return
			}
			if se != nil {
				t.Fatalf("status %+v, want an assertion with %s", se, c.want)
			}
			if got := d.FindElement("//AuthnStatement/AuthnContext/AuthnContextClassRef").Text(); got != c.want {
				t.Fatalf("AuthnContextClassRef = %s, want %s", got, c.want)
			}
		})
	}
}

// TestRequestSubject: an AuthnRequest that names its Subject is answered
// with an assertion about that user only; for anyone else, with a signed
// Requester/UnknownPrincipal error Response and no assertion.
func TestRequestSubject(t *testing.T) {
	idp, _ := newTestIdP(t, time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	subject := func(id crewjam.NameID) func(*crewjam.AuthnRequest) {
		return func(r *crewjam.AuthnRequest) { r.Subject = &crewjam.Subject{NameID: &id} }
	}
	cases := []struct {
		name string
		edit func(*crewjam.AuthnRequest)
		want string // second-level status, or "" for an assertion
	}{
		{"no Subject", nil, ""},
		{"the signed-in user", subject(crewjam.NameID{Value: "a@example.com"}), ""},
		{"the signed-in user, email in another case", subject(crewjam.NameID{Value: "A@Example.com", Format: attributes.NameIDFormatEmail}), ""},
		{"another user", subject(crewjam.NameID{Value: "boss@example.com"}), statusUnknownPrincipal},
		{"another user, email format", subject(crewjam.NameID{Value: "boss@example.com", Format: attributes.NameIDFormatEmail}), statusUnknownPrincipal},
		{"same value, another format", subject(crewjam.NameID{Value: "a@example.com", Format: attributes.NameIDFormatPersistent}), statusUnknownPrincipal},
		{"same value, another SPNameQualifier", subject(crewjam.NameID{Value: "a@example.com", SPNameQualifier: "urn:other"}), statusUnknownPrincipal},
		{"Subject without NameID", func(r *crewjam.AuthnRequest) { r.Subject = &crewjam.Subject{} }, statusUnknownPrincipal},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, se := answer(t, idp, c.edit)
			if c.want == "" {
				if se != nil {
					t.Fatalf("status %+v, want an assertion", se)
				}
				if got := d.FindElement("//Assertion/Subject/NameID").Text(); got != agent.NameID {
					t.Fatalf("assertion about %q", got)
				}
				return
			}
			if se == nil || se.Second != c.want {
				t.Fatalf("status %+v, want %s", se, c.want)
			}
		})
	}
}

// TestUnsupportedBinding: a request for a Response with another binding
// than HTTP-POST, at a registered ACS URL, gets a signed
// Responder/UnsupportedBinding error Response posted there; at an
// unregistered one, an error page and nothing sent.
func TestUnsupportedBinding(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	idp, _ := newTestIdP(t, now)
	for _, b := range []string{crewjam.HTTPArtifactBinding, crewjam.HTTPRedirectBinding, "urn:oasis:names:tc:SAML:2.0:bindings:PAOS"} {
		t.Run(b, func(t *testing.T) {
			_, se := answer(t, idp, func(r *crewjam.AuthnRequest) { r.ProtocolBinding = b })
			if se == nil || se.Status != saml.StatusResponder || se.Second != statusUnsupportedBinding {
				t.Fatalf("status %+v, want Responder/UnsupportedBinding", se)
			}
		})
	}
	t.Run("HTTP-POST", func(t *testing.T) {
		if _, se := answer(t, idp, func(r *crewjam.AuthnRequest) { r.ProtocolBinding = crewjam.HTTPPostBinding }); se != nil {
			t.Fatalf("status %+v, want an assertion", se)
		}
	})
	t.Run("unregistered ACS URL", func(t *testing.T) {
		hr, _ := authnRequest(t, now, "", func(r *crewjam.AuthnRequest) {
			r.ProtocolBinding, r.AssertionConsumerServiceURL = crewjam.HTTPArtifactBinding, "https://evil.example.com/acs"
		})
		req, _, err := idp.ParseRequest(hr, lookup(testSP))
		var re *saml.RequestError
		if !errors.As(err, &re) || req != nil {
			t.Fatalf("ParseRequest = %+v, %v; want a RequestError and nothing to answer", req, err)
		}
	})
}
