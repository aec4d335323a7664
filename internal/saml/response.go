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
	// RelayState is posted alongside, unchanged; may be empty.
	RelayState  string
	ResponseID  string
	AssertionID string
	// XML is the signed Response document. It is posted base64-encoded;
	// the auto-POST page encodes it into its own buffer, so a Response
	// carries no encoded copy (about 12 KB for a Flex Response).
	XML []byte
}

// SAMLResponse is the base64-encoded Response document, the value of the
// SAMLResponse form field, encoded on each call.
func (r *Response) SAMLResponse() string { return base64.StdEncoding.EncodeToString(r.XML) }

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
// attributes. Both the Assertion and the Response are signed; the
// Response is written directly in canonical form (see writer.go).
//
// If req asks for a NameID format the SP's policy does not produce, the
// result is a signed error Response (InvalidNameIDPolicy) and a
// *StatusError is returned alongside it. A released value XML cannot
// carry is refused with an *attributes.Error.
func (i *IdP) Respond(req *Request, s sp.ServiceProvider, rel attributes.Released, g Grant) (*Response, error) {
	if done, resp, err := i.refused(req, s, rel, i.RespondError); done {
		return resp, err
	}
	if err := carriable(req, rel); err != nil {
		return nil, err
	}
	t, err := i.target(req, s)
	if err != nil {
		return nil, err
	}
	now := i.now()
	assertionID, err := newID()
	if err != nil {
		return nil, err
	}
	return i.write(t, now, nil, i.assertion(assertionID, req, now, t.acs, s, rel, g))
}

// RespondError builds and signs a SAML error Response to req.
func (i *IdP) RespondError(req *Request, s sp.ServiceProvider, se *StatusError) (*Response, error) {
	switch se.Status {
	case crewjam.StatusRequester, crewjam.StatusResponder, crewjam.StatusVersionMismatch:
	default:
		return nil, fmt.Errorf("sign error response: cannot make an error response with top-level status %q", se.Status)
	}
	t, err := i.target(req, s)
	if err != nil {
		return nil, err
	}
	return i.write(t, i.now(), se, nil)
}

// write signs the Response to t with the current keys: a, or the error
// status se when a is nil.
func (i *IdP) write(t target, now time.Time, se *StatusError, a *crewjam.Assertion) (*Response, error) {
	responseID, err := newID()
	if err != nil {
		return nil, err
	}
	buf, err := writeResponse(i.keys.Load(), responseHead{ID: responseID, InResponseTo: t.inResponseTo, Destination: t.acs,
		Issuer: i.entity.String(), IssueInstant: now, Status: se}, a)
	if err != nil {
		if se != nil {
			return nil, fmt.Errorf("sign error response: %w", err)
		}
		return nil, fmt.Errorf("sign response: %w", err)
	}
	assertionID := ""
	if a != nil {
		assertionID = a.ID
	}
	return &Response{ACSURL: t.acs, RelayState: t.relayState,
		ResponseID: responseID, AssertionID: assertionID, XML: buf}, nil
}

// refused decides, for both paths, what is refused before an assertion is
// built: done is true when resp and err are the answer, a signed error
// Response made by respondError with its *StatusError, or an error alone
// (nothing is sent).
func (i *IdP) refused(req *Request, s sp.ServiceProvider, rel attributes.Released,
	respondError func(*Request, sp.ServiceProvider, *StatusError) (*Response, error)) (done bool, resp *Response, err error) {
	se := nameIDFormat(req, rel)
	if se == nil {
		se = i.subjectMismatch(req, s, rel)
	}
	if se != nil {
		if resp, err = respondError(req, s, se); err != nil {
			return true, nil, err
		}
		return true, resp, se
	}
	if s.SessionNotOnOrAfter != 0 && s.SessionNotOnOrAfter < MinSessionNotOnOrAfter {
		return true, nil, fmt.Errorf("service provider %s: SessionNotOnOrAfter %s is below the %s Flex needs", s.Name, s.SessionNotOnOrAfter, MinSessionNotOnOrAfter)
	}
	return false, nil, nil
}

// carriable refuses, with a sentence for a person, what XML cannot carry
// (invalid UTF-8, characters outside XML's Char production): the canonical
// writer never replaces a character, so the SP reads exactly what was
// released. The attributes package refuses such values already; this
// covers every caller. An attribute without a name is refused too (Name
// is required, saml-core §2.7.3.1).
func carriable(req *Request, rel attributes.Released) error {
	if r := xmlTextReason(rel.NameID); r != "" {
		return &attributes.Error{Name: "NameID", Value: rel.NameID, Reason: "the NameID is " + r}
	}
	for _, at := range rel.Attributes {
		if at.Name == "" {
			return &attributes.Error{Reason: "an attribute to release has an empty name"}
		}
		if r := xmlTextReason(at.Name); r != "" {
			return &attributes.Error{Value: at.Name, Reason: "an attribute name is " + r}
		}
		for _, v := range at.Values {
			if r := xmlTextReason(v); r != "" {
				return &attributes.Error{Name: at.Name, Value: v, Reason: "the value is " + r}
			}
		}
	}
	if req != nil {
		for _, v := range []string{req.ID, req.AuthnContextClassRef} {
			if r := xmlTextReason(v); r != "" {
				return &RequestError{Reason: "The sign-in request carries a value that is " + r + "; nothing was sent."}
			}
		}
	}
	return nil
}

// target is where a Response goes and what it answers.
type target struct {
	acs, relayState, inResponseTo string
}

// target returns where the Response to req (nil: unsolicited) for s
// goes. The ACS URL must be one registered for the SP: a Response is
// never sent anywhere else, whatever the caller passed.
func (i *IdP) target(req *Request, s sp.ServiceProvider) (target, error) {
	var t target
	if req != nil {
		t = target{acs: req.ACSURL, relayState: req.RelayState, inResponseTo: req.ID}
	} else {
		if len(s.ACSURLs) == 0 {
			return t, fmt.Errorf("service provider %s has no ACS URL", s.Name)
		}
		if len(s.DefaultRedirectURL) > MaxRelayState {
			return t, fmt.Errorf("service provider %s: default redirect URL is longer than %d bytes", s.Name, MaxRelayState)
		}
		t = target{acs: s.ACSURLs[0], relayState: s.DefaultRedirectURL}
	}
	for _, u := range s.ACSURLs {
		if u == t.acs {
			return t, nil
		}
	}
	return t, fmt.Errorf("ACS URL %q is not registered for service provider %s", t.acs, s.Name)
}

// respondReference is Respond as crewjam/saml writes and signs it
// (MakeResponse: etree, goxmldsig's canonicaliser, two signatures). It is
// the reference the canonical writer is tested against, and is used only
// by tests.
func (i *IdP) respondReference(req *Request, s sp.ServiceProvider, rel attributes.Released, g Grant) (*Response, error) {
	if done, resp, err := i.refused(req, s, rel, i.respondErrorReference); done {
		return resp, err
	}
	preq, err := i.newResponse(req, s)
	if err != nil {
		return nil, err
	}
	assertionID, err := newID()
	if err != nil {
		return nil, err
	}
	preq.Assertion = i.assertion(assertionID, req, preq.Now, preq.ACSEndpoint.Location, s, rel, g)
	if err := preq.MakeResponse(); err != nil {
		return nil, fmt.Errorf("sign response: %w", err)
	}
	return finish(preq, assertionID)
}

// respondErrorReference is RespondError as crewjam/saml writes it; tests only.
func (i *IdP) respondErrorReference(req *Request, s sp.ServiceProvider, se *StatusError) (*Response, error) {
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
// an unsolicited one when req is nil (the reference path).
func (i *IdP) newResponse(req *Request, s sp.ServiceProvider) (*crewjam.IdpAuthnRequest, error) {
	provider, err := i.provider(nil)
	if err != nil {
		return nil, err
	}
	t, err := i.target(req, s)
	if err != nil {
		return nil, err
	}
	ed := entityDescriptor(s)
	preq := &crewjam.IdpAuthnRequest{
		IDP:                     provider,
		Now:                     i.now(),
		ServiceProviderMetadata: ed,
		SPSSODescriptor:         &ed.SPSSODescriptors[0],
		RelayState:              t.relayState,
	}
	preq.Request.ID = t.inResponseTo
	for n := range ed.SPSSODescriptors[0].AssertionConsumerServices {
		if ep := &ed.SPSSODescriptors[0].AssertionConsumerServices[n]; ep.Location == t.acs {
			preq.ACSEndpoint = ep
		}
	}
	return preq, nil
}

// assertion builds the Assertion following saml-profiles-2.0-os §4.1.4.2:
// Issuer, a Subject with a bearer SubjectConfirmation (Recipient,
// NotOnOrAfter, InResponseTo when solicited, no NotBefore), Conditions with
// the SP's Audience, one AuthnStatement with a SessionIndex, and the
// released attributes.
func (i *IdP) assertion(id string, req *Request, now time.Time, acs string, s sp.ServiceProvider, rel attributes.Released, g Grant) *crewjam.Assertion {
	inResponseTo := ""
	if req != nil {
		inResponseTo = req.ID
	}
	notOnOrAfter := now.Add(i.cfg.Validity)
	// Everything the Assertion points to is one allocation, and the
	// attribute values another.
	p := &assertionParts{}
	nameID := &p.nameID
	*nameID = crewjam.NameID{Format: rel.NameIDFormat, Value: rel.NameID}
	if rel.NameIDFormat == attributes.NameIDFormatPersistent {
		// saml-core §8.3.7: qualify a persistent identifier with both parties.
		nameID.NameQualifier = i.cfg.EntityID
		nameID.SPNameQualifier = s.EntityID
	}
	class := i.authnClasses()[0]
	if req != nil && req.AuthnContextClassRef != "" {
		class = req.AuthnContextClassRef
	}
	p.class = crewjam.AuthnContextClassRef{Value: class}
	p.authn[0] = crewjam.AuthnStatement{
		AuthnInstant: g.AuthnInstant.UTC(),
		SessionIndex: g.SessionIndex,
		AuthnContext: crewjam.AuthnContext{AuthnContextClassRef: &p.class},
	}
	if s.SessionNotOnOrAfter != 0 {
		p.end = g.AuthnInstant.UTC().Add(s.SessionNotOnOrAfter)
		p.authn[0].SessionNotOnOrAfter = &p.end
	}
	p.data = crewjam.SubjectConfirmationData{
		InResponseTo: inResponseTo,
		NotOnOrAfter: notOnOrAfter,
		Recipient:    acs,
	}
	p.confirm[0] = crewjam.SubjectConfirmation{Method: bearer, SubjectConfirmationData: &p.data}
	p.subject = crewjam.Subject{NameID: nameID, SubjectConfirmations: p.confirm[:]}
	p.audience[0] = crewjam.AudienceRestriction{Audience: crewjam.Audience{Value: s.EntityID}}
	p.conditions = crewjam.Conditions{
		NotBefore:            now.Add(-i.cfg.ClockSkew),
		NotOnOrAfter:         notOnOrAfter,
		AudienceRestrictions: p.audience[:],
	}
	a := &p.assertion
	*a = crewjam.Assertion{
		ID:              id,
		IssueInstant:    now,
		Version:         "2.0",
		Issuer:          crewjam.Issuer{Format: entityFormat, Value: i.cfg.EntityID},
		Subject:         &p.subject,
		Conditions:      &p.conditions,
		AuthnStatements: p.authn[:],
	}
	// An AttributeStatement must hold at least one Attribute (saml-core
	// §2.7.3), so it is left out when nothing is released.
	if len(rel.Attributes) > 0 {
		n := 0
		for _, at := range rel.Attributes {
			n += len(at.Values)
		}
		values := make([]crewjam.AttributeValue, n)
		attrs := make([]crewjam.Attribute, 0, len(rel.Attributes))
		for _, at := range rel.Attributes {
			vs := values[:len(at.Values):len(at.Values)]
			values = values[len(at.Values):]
			for n, v := range at.Values {
				vs[n] = crewjam.AttributeValue{Type: "xs:string", Value: v}
			}
			attrs = append(attrs, crewjam.Attribute{Name: at.Name, NameFormat: basicNameFormat, Values: vs})
		}
		p.statement[0] = crewjam.AttributeStatement{Attributes: attrs}
		a.AttributeStatements = p.statement[:]
	}
	return a
}

// assertionParts are an Assertion and what it points to, allocated
// together (assertion).
type assertionParts struct {
	assertion  crewjam.Assertion
	subject    crewjam.Subject
	nameID     crewjam.NameID
	confirm    [1]crewjam.SubjectConfirmation
	data       crewjam.SubjectConfirmationData
	conditions crewjam.Conditions
	audience   [1]crewjam.AudienceRestriction
	authn      [1]crewjam.AuthnStatement
	class      crewjam.AuthnContextClassRef
	end        time.Time
	statement  [1]crewjam.AttributeStatement
}

func finish(preq *crewjam.IdpAuthnRequest, assertionID string) (*Response, error) {
	doc := etree.NewDocument()
	doc.SetRoot(preq.ResponseEl)
	buf, err := doc.WriteToBytes()
	if err != nil {
		return nil, fmt.Errorf("serialise response: %w", err)
	}
	return &Response{
		ACSURL:      preq.ACSEndpoint.Location,
		RelayState:  preq.RelayState,
		ResponseID:  preq.ResponseEl.SelectAttrValue("ID", ""),
		AssertionID: assertionID,
		XML:         buf,
	}, nil
}

// newID returns a fresh xs:ID value with 160 random bits
// (saml-core §1.3.4 asks for at least 128).
func newID() (string, error) {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate ID: %w", err)
	}
	var id [len("id-") + 2*len(b)]byte
	copy(id[:], "id-")
	hex.Encode(id[len("id-"):], b[:])
	return string(id[:]), nil
}

// PreviewAssertion returns the unsigned Assertion the SP would receive in
// an unsolicited Response (for `idp users preview --xml`). It needs no key.
func (i *IdP) PreviewAssertion(s sp.ServiceProvider, rel attributes.Released, g Grant) ([]byte, error) {
	if len(s.ACSURLs) == 0 {
		return nil, fmt.Errorf("service provider %s has no ACS URL", s.Name)
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.SetRoot(i.assertion(id, nil, i.now(), s.ACSURLs[0], s, rel, g).Element())
	doc.Indent(2)
	return doc.WriteToBytes()
}
