package saml

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/sp"
)

// SAML URIs used in what we issue.
const (
	bearer                = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
	entityFormat          = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
	basicNameFormat       = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
	passwordProtectedTran = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
	passwordClass         = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"
)

// Grant is what the web layer knows about how the user authenticated.
type Grant struct {
	// SessionIndex identifies the IdP session to the SP (for logout).
	SessionIndex string
	// AuthnInstant is when the user authenticated.
	AuthnInstant time.Time
}

// Response is a signed SAML Response ready for the HTTP-POST binding.
type Response struct {
	// ACSURL is where the browser must post it: always a URL registered
	// for the SP.
	ACSURL string
	// SAMLResponse is the base64-encoded Response document.
	SAMLResponse string
	// RelayState is posted alongside, unchanged; may be empty.
	RelayState  string
	ResponseID  string
	AssertionID string
	// XML is the signed Response document.
	XML []byte
}

// StatusError asks for a SAML error Response (no assertion) instead of a
// successful one, e.g. NoPassive or InvalidNameIDPolicy.
type StatusError struct {
	Status  string // top-level StatusCode
	Second  string // second-level StatusCode, optional
	Message string // StatusMessage, for the SP's logs
}

func (e *StatusError) Error() string { return "saml status " + e.Second + ": " + e.Message }

// NoPassive is the StatusError for an IsPassive request when the user
// would have to be prompted.
func NoPassive() *StatusError {
	return &StatusError{
		Status:  crewjam.StatusResponder,
		Second:  crewjam.StatusNoPassive,
		Message: "the user has no session and the request forbids prompting",
	}
}

// Respond builds and signs the Response to req (nil for an IdP-initiated,
// unsolicited Response) for service provider s, asserting the released
// attributes. Both the Assertion and the Response are signed.
//
// If req asks for a NameID format the SP's policy does not produce, the
// result is a signed error Response (InvalidNameIDPolicy) and a
// *StatusError is returned alongside it.
func (i *IdP) Respond(req *Request, s sp.ServiceProvider, rel attributes.Released, g Grant) (*Response, error) {
	se := nameIDFormat(req, rel)
	if se == nil {
		se = i.subjectMismatch(req, s, rel)
	}
	if se != nil {
		resp, rerr := i.RespondError(req, s, se)
		if rerr != nil {
			return nil, rerr
		}
		return resp, se
	}
	if s.SessionNotOnOrAfter != 0 && s.SessionNotOnOrAfter < MinSessionNotOnOrAfter {
		return nil, fmt.Errorf("service provider %s: SessionNotOnOrAfter %s is below the %s Flex needs", s.Name, s.SessionNotOnOrAfter, MinSessionNotOnOrAfter)
	}
	preq, err := i.newResponse(req, s)
	if err != nil {
		return nil, err
	}
	assertionID, err := newID()
	if err != nil {
		return nil, err
	}
	preq.Assertion = i.assertion(assertionID, req, preq, s, rel, g)
	if err := preq.MakeResponse(); err != nil {
		return nil, fmt.Errorf("sign response: %w", err)
	}
	return finish(preq, assertionID)
}

// RespondError builds and signs a SAML error Response to req.
func (i *IdP) RespondError(req *Request, s sp.ServiceProvider, se *StatusError) (*Response, error) {
	preq, err := i.newResponse(req, s)
	if err != nil {
		return nil, err
	}
	if err := preq.MakeErrorResponse(se.Status, se.Second, se.Message); err != nil {
		return nil, fmt.Errorf("sign error response: %w", err)
	}
	return finish(preq, "")
}

// newResponse prepares crewjam's request object for a Response to req, or
// an unsolicited one when req is nil.
func (i *IdP) newResponse(req *Request, s sp.ServiceProvider) (*crewjam.IdpAuthnRequest, error) {
	provider, err := i.provider(nil)
	if err != nil {
		return nil, err
	}
	ed := entityDescriptor(s)
	preq := &crewjam.IdpAuthnRequest{
		IDP:                     provider,
		Now:                     i.now(),
		ServiceProviderMetadata: ed,
		SPSSODescriptor:         &ed.SPSSODescriptors[0],
	}
	acsURL := ""
	if req != nil {
		preq.Request.ID = req.ID
		preq.RelayState = req.RelayState
		acsURL = req.ACSURL
	} else {
		if len(s.ACSURLs) == 0 {
			return nil, fmt.Errorf("service provider %s has no ACS URL", s.Name)
		}
		acsURL = s.ACSURLs[0]
		if len(s.DefaultRedirectURL) > MaxRelayState {
			return nil, fmt.Errorf("service provider %s: default redirect URL is longer than %d bytes", s.Name, MaxRelayState)
		}
		preq.RelayState = s.DefaultRedirectURL
	}
	// The ACS URL must be one registered for the SP: a Response is never
	// sent anywhere else, whatever the caller passed.
	for n := range ed.SPSSODescriptors[0].AssertionConsumerServices {
		if ep := &ed.SPSSODescriptors[0].AssertionConsumerServices[n]; ep.Location == acsURL {
			preq.ACSEndpoint = ep
		}
	}
	if preq.ACSEndpoint == nil {
		return nil, fmt.Errorf("ACS URL %q is not registered for service provider %s", acsURL, s.Name)
	}
	return preq, nil
}

// assertion builds the Assertion following saml-profiles-2.0-os §4.1.4.2:
// Issuer, a Subject with a bearer SubjectConfirmation (Recipient,
// NotOnOrAfter, InResponseTo when solicited, no NotBefore), Conditions with
// the SP's Audience, one AuthnStatement with a SessionIndex, and the
// released attributes.
func (i *IdP) assertion(id string, req *Request, preq *crewjam.IdpAuthnRequest, s sp.ServiceProvider, rel attributes.Released, g Grant) *crewjam.Assertion {
	now := preq.Now
	notOnOrAfter := now.Add(i.cfg.Validity)
	nameID := &crewjam.NameID{Format: rel.NameIDFormat, Value: rel.NameID}
	if rel.NameIDFormat == attributes.NameIDFormatPersistent {
		// saml-core §8.3.7: qualify a persistent identifier with both parties.
		nameID.NameQualifier = i.cfg.EntityID
		nameID.SPNameQualifier = s.EntityID
	}
	class := i.authnClasses()[0]
	if req != nil && req.AuthnContextClassRef != "" {
		class = req.AuthnContextClassRef
	}
	authn := crewjam.AuthnStatement{
		AuthnInstant: g.AuthnInstant.UTC(),
		SessionIndex: g.SessionIndex,
		AuthnContext: crewjam.AuthnContext{AuthnContextClassRef: &crewjam.AuthnContextClassRef{Value: class}},
	}
	if s.SessionNotOnOrAfter != 0 {
		end := g.AuthnInstant.UTC().Add(s.SessionNotOnOrAfter)
		authn.SessionNotOnOrAfter = &end
	}
	a := &crewjam.Assertion{
		ID:           id,
		IssueInstant: now,
		Version:      "2.0",
		Issuer:       crewjam.Issuer{Format: entityFormat, Value: i.cfg.EntityID},
		Subject: &crewjam.Subject{
			NameID: nameID,
			SubjectConfirmations: []crewjam.SubjectConfirmation{{
				Method: bearer,
				SubjectConfirmationData: &crewjam.SubjectConfirmationData{
					InResponseTo: preq.Request.ID,
					NotOnOrAfter: notOnOrAfter,
					Recipient:    preq.ACSEndpoint.Location,
				},
			}},
		},
		Conditions: &crewjam.Conditions{
			NotBefore:            now.Add(-i.cfg.ClockSkew),
			NotOnOrAfter:         notOnOrAfter,
			AudienceRestrictions: []crewjam.AudienceRestriction{{Audience: crewjam.Audience{Value: s.EntityID}}},
		},
		AuthnStatements: []crewjam.AuthnStatement{authn},
	}
	// An AttributeStatement must hold at least one Attribute (saml-core
	// §2.7.3), so it is left out when nothing is released.
	if len(rel.Attributes) > 0 {
		attrs := make([]crewjam.Attribute, 0, len(rel.Attributes))
		for _, at := range rel.Attributes {
			values := make([]crewjam.AttributeValue, len(at.Values))
			for n, v := range at.Values {
				values[n] = crewjam.AttributeValue{Type: "xs:string", Value: v}
			}
			attrs = append(attrs, crewjam.Attribute{Name: at.Name, NameFormat: basicNameFormat, Values: values})
		}
		a.AttributeStatements = []crewjam.AttributeStatement{{Attributes: attrs}}
	}
	return a
}

func finish(preq *crewjam.IdpAuthnRequest, assertionID string) (*Response, error) {
	doc := etree.NewDocument()
	doc.SetRoot(preq.ResponseEl)
	buf, err := doc.WriteToBytes()
	if err != nil {
		return nil, fmt.Errorf("serialise response: %w", err)
	}
	return &Response{
		ACSURL:       preq.ACSEndpoint.Location,
		SAMLResponse: base64.StdEncoding.EncodeToString(buf),
		RelayState:   preq.RelayState,
		ResponseID:   preq.ResponseEl.SelectAttrValue("ID", ""),
		AssertionID:  assertionID,
		XML:          buf,
	}, nil
}

// newID returns a fresh xs:ID value with 160 random bits
// (saml-core §1.3.4 asks for at least 128).
func newID() (string, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate ID: %w", err)
	}
	return "id-" + hex.EncodeToString(b), nil
}

// PreviewAssertion returns the unsigned Assertion the SP would receive in
// an unsolicited Response (for `idp users preview --xml`). It needs no key.
func (i *IdP) PreviewAssertion(s sp.ServiceProvider, rel attributes.Released, g Grant) ([]byte, error) {
	if len(s.ACSURLs) == 0 {
		return nil, fmt.Errorf("service provider %s has no ACS URL", s.Name)
	}
	ed := entityDescriptor(s)
	preq := &crewjam.IdpAuthnRequest{Now: i.now(), ACSEndpoint: &ed.SPSSODescriptors[0].AssertionConsumerServices[0]}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.SetRoot(i.assertion(id, nil, preq, s, rel, g).Element())
	doc.Indent(2)
	return doc.WriteToBytes()
}
