package saml

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"net/url"

	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/beevik/etree"

	crewjam "github.com/crewjam/saml"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/sp"
)

// Request is a validated AuthnRequest, reduced to what the rest of flexidp
// needs. It is small and serialisable, so the web layer can carry it
// through the login form.
type Request struct {
	// ID is the AuthnRequest ID; the Response's InResponseTo.
	ID string `json:"id"`
	// SP is the Name of the service provider that sent it.
	SP string `json:"sp"`
	// ACSURL is the registered assertion consumer service the Response
	// goes to. It is always one of the SP's registered URLs.
	ACSURL string `json:"acs"`
	// RelayState is echoed back unchanged.
	RelayState string `json:"relay_state,omitempty"`
	// IssueInstant is when the SP issued the request.
	IssueInstant time.Time `json:"issued"`
	// ForceAuthn asks for a fresh authentication, even within a session.
	ForceAuthn bool `json:"force_authn,omitempty"`
	// IsPassive forbids prompting the user.
	IsPassive bool `json:"is_passive,omitempty"`
	// NameIDFormat is the format the SP asked for in NameIDPolicy, if any.
	NameIDFormat string `json:"name_id_format,omitempty"`
	// AuthnContextClassRef is the authentication context class the
	// Assertion states: the one that satisfies the request's
	// RequestedAuthnContext (see authnContext), or "" for the default.
	AuthnContextClassRef string `json:"authn_context,omitempty"`
	// Subject is the principal the request names in its <Subject>, if
	// any; the Response must be about that user or be an error.
	Subject *Subject `json:"subject,omitempty"`
	// UnverifiedSignature is true when the request was signed but the SP
	// has no registered signing certificate, so the signature was ignored
	// (see sp.ServiceProvider.SigningCertificatePEM).
	UnverifiedSignature bool `json:"unverified_signature,omitempty"`
}

// Lookup finds a service provider by entity ID. It returns found=false
// (and no error) when there is none.
type Lookup func(ctx context.Context, entityID string) (s sp.ServiceProvider, found bool, err error)

// RequestError is an AuthnRequest we refuse. Reason is a sentence for the
// person in front of the browser; Err has the detail for the log.
type RequestError struct {
	Reason string
	Err    error
}

func (e *RequestError) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

func (e *RequestError) Unwrap() error { return e.Err }

// ErrLookup wraps a failure of the Lookup function (e.g. the store is
// unreachable); it is not the requester's fault.
var ErrLookup = errors.New("saml: service provider lookup failed")

const unspecifiedNameID = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"

// ParseRequest decodes and validates the AuthnRequest carried by r, with
// the HTTP-Redirect (GET) or HTTP-POST binding. It checks the XML is safe
// and well-formed, the request is current (IssueInstant within crewjam's
// MaxIssueDelay, not in the future), SAML 2.0, has an ID and an Issuer we
// know, any Destination is our SSO URL, any signature verifies, and the
// ACS URL (or index) is one registered for that SP. Before any of that,
// inspect refuses hostile input (DTDs, deep nesting, oversized or repeated
// parameters) without parsing it into a tree. On any failure it
// returns a *RequestError and nothing has been sent anywhere.
func (i *IdP) ParseRequest(r *http.Request, lookup Lookup) (*Request, sp.ServiceProvider, error) {
	var found sp.ServiceProvider
	msg, err := inspect(r, "SAMLRequest")
	if err != nil {
		return nil, found, err
	}
	var lookupErr error
	provider, err := i.provider(providerFunc(func(hr *http.Request, entityID string) (*crewjam.EntityDescriptor, error) {
		s, ok, err := lookup(hr.Context(), entityID)
		if err != nil {
			lookupErr = err
			return nil, err
		}
		if !ok {
			return nil, os.ErrNotExist
		}
		found = s
		return entityDescriptor(s), nil
	}))
	if err != nil {
		return nil, found, err
	}
	req, err := newAuthnRequest(provider, r, msg)
	if err != nil {
		return nil, found, classify(err)
	}
	req.Now = i.now()
	err = req.Validate()
	unverified := false
	if errors.Is(err, crewjam.ErrInvalidSignature) && found.Name != "" && found.SigningCertificatePEM == "" {
		// The SP signs its requests but no certificate is registered to
		// check them with. An unsigned request would be accepted, so the
		// signature adds nothing we could rely on: drop it and validate
		// the request as unsigned, rather than lock the SP's users out.
		stripped, serr := withoutSignature(r, msg)
		if serr != nil {
			return nil, found, serr
		}
		if req, err = crewjam.NewIdpAuthnRequest(provider, stripped); err != nil {
			return nil, found, classify(err)
		}
		req.Now = i.now()
		err = req.Validate()
		unverified = true
	}
	if found.Name != "" && found.RequiresSignedRequests() {
		// Checked whatever crewjam said, so that an unsigned or re-wrapped
		// request gets this sentence rather than a parsing detail.
		if serr := checkSigned(r, msg, found, "sign-in request"); serr != nil {
			return nil, found, serr
		}
	}
	if err != nil {
		if lookupErr != nil {
			return nil, found, fmt.Errorf("%w: %w", ErrLookup, lookupErr)
		}
		if errors.Is(err, crewjam.ErrUnknownAssertionConsumerService) && req.Request.AssertionConsumerServiceURL != "" {
			// Name what was refused, for the log (shortened: it is the requester's).
			err = fmt.Errorf("%w (requested ACS URL %q, service provider %s)", err, shorten(req.Request.AssertionConsumerServiceURL, 200), found.Name)
		}
		return nil, found, classify(err)
	}
	out := &Request{
		ID:           req.Request.ID,
		SP:           found.Name,
		ACSURL:       req.ACSEndpoint.Location,
		RelayState:   req.RelayState,
		IssueInstant: req.Request.IssueInstant.UTC(),
		ForceAuthn:   req.Request.ForceAuthn != nil && *req.Request.ForceAuthn,
		IsPassive:    req.Request.IsPassive != nil && *req.Request.IsPassive,

		UnverifiedSignature: unverified,
	}
	if p := req.Request.NameIDPolicy; p != nil && p.Format != nil && *p.Format != unspecifiedNameID {
		out.NameIDFormat = *p.Format
	}
	// From here the request is genuine and its ACS URL registered: what
	// flexidp cannot do is answered with a signed error Response there.
	if b := req.Request.ProtocolBinding; b != "" && b != crewjam.HTTPPostBinding {
		// crewjam chose the registered (HTTP-POST) endpoint at the URL the
		// request names, or the default one: the SP can be told.
		return out, found, &StatusError{Status: StatusResponder, Second: statusUnsupportedBinding,
			Message: "flexidp sends Responses with the HTTP-POST binding only, not " + b}
	}
	var serr *StatusError
	if out.AuthnContextClassRef, serr = i.authnContext(req.Request.RequestedAuthnContext); serr != nil {
		return out, found, serr
	}
	if out.Subject, serr = requestSubject(req.Request.Subject); serr != nil {
		return out, found, serr
	}
	return out, found, nil
}

// shorten cuts s to at most n bytes (at a rune boundary), marking the cut.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// ReplayKey is the key under which the request's ID is recorded once it
// has been answered, so it is never answered twice.
func (r *Request) ReplayKey() string { return "authn:" + r.SP + ":" + r.ID }

// ReplayExpiry is how long the ReplayKey must be kept: after that the
// request itself is too old to be accepted.
func (r *Request) ReplayExpiry() time.Time {
	return r.IssueInstant.Add(crewjam.MaxIssueDelay + crewjam.MaxClockSkew)
}

type providerFunc func(r *http.Request, entityID string) (*crewjam.EntityDescriptor, error)

func (f providerFunc) GetServiceProvider(r *http.Request, id string) (*crewjam.EntityDescriptor, error) {
	return f(r, id)
}

// entityDescriptor is the metadata crewjam validates requests against. It
// lists the registered ACS URLs and the SP's signing certificates, marked
// use="signing": with no encryption key crewjam never encrypts the
// assertion.
func entityDescriptor(s sp.ServiceProvider) *crewjam.EntityDescriptor {
	acs := make([]crewjam.IndexedEndpoint, len(s.ACSURLs))
	for n, u := range s.ACSURLs {
		isDefault := n == 0
		acs[n] = crewjam.IndexedEndpoint{Binding: crewjam.HTTPPostBinding, Location: u, Index: n, IsDefault: &isDefault}
	}
	// AuthnRequestsSigned makes crewjam refuse an unsigned request too
	// (checkSigned refuses it first, with a clearer sentence).
	signed := s.RequiresSignedRequests()
	ed := &crewjam.EntityDescriptor{
		EntityID: s.EntityID,
		SPSSODescriptors: []crewjam.SPSSODescriptor{{
			SSODescriptor: crewjam.SSODescriptor{RoleDescriptor: crewjam.RoleDescriptor{
				ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol",
			}},
			AuthnRequestsSigned:       &signed,
			AssertionConsumerServices: acs,
		}},
	}
	for _, der := range s.SigningCertificates() {
		ed.SPSSODescriptors[0].KeyDescriptors = append(ed.SPSSODescriptors[0].KeyDescriptors, crewjam.KeyDescriptor{
			Use: "signing",
			KeyInfo: crewjam.KeyInfo{X509Data: crewjam.X509Data{
				X509Certificates: []crewjam.X509Certificate{{Data: base64.StdEncoding.EncodeToString(der)}},
			}},
		})
	}
	return ed
}

// newAuthnRequest is crewjam.NewIdpAuthnRequest(provider, r) for the
// message inspect decoded from r. An unsigned HTTP-Redirect message is
// handed over as crewjam's HTTP-POST path would hand it (the XML inspect
// inflated, the RelayState), so crewjam validates the very same message
// without decoding and inflating it a second time (its inflater allocates
// a fresh 32 KiB window per request; inspect's is pooled and bounded).
// Once the binding is undone, the two bindings carry a message the same
// way (SAML bindings §3.4.4.1, §3.5.4), except for a signature: a
// redirect signed in its query (Signature, SigAlg), or one whose XML
// holds a Signature element (which the binding forbids and crewjam must
// see as it came), and any POST (HTTP-POST-SimpleSign is a POST), go to
// crewjam as they arrived.
func newAuthnRequest(provider *crewjam.IdentityProvider, r *http.Request, msg message) (*crewjam.IdpAuthnRequest, error) {
	if !msg.redirect || msg.querySigned || bytes.Contains(msg.xml, []byte("Signature")) {
		return crewjam.NewIdpAuthnRequest(provider, r)
	}
	return &crewjam.IdpAuthnRequest{IDP: provider, HTTPRequest: r, RequestBuffer: msg.xml, RelayState: msg.relayState}, nil
}

// withoutSignature returns r with the signature of its SAML message
// removed: the SigAlg and Signature parameters of the HTTP-Redirect
// binding, and an enveloped ds:Signature (re-encoded as it came).
func withoutSignature(r *http.Request, msg message) (*http.Request, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(msg.xml); err != nil || doc.Root() == nil {
		return nil, &RequestError{Reason: "The SAML message is not well-formed XML.", Err: err}
	}
	if sig := doc.Root().SelectElement("Signature"); sig != nil {
		doc.Root().RemoveChild(sig)
	}
	xmlBytes, err := doc.WriteToBytes()
	if err != nil {
		return nil, err
	}
	out := r.Clone(r.Context())
	if msg.redirect {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
		_, _ = w.Write(xmlBytes)
		_ = w.Close()
		q := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(buf.Bytes())}}
		if msg.relayState != "" {
			q.Set("RelayState", msg.relayState)
		}
		u := *r.URL
		u.RawQuery = q.Encode()
		out.URL = &u
		return out, nil
	}
	form := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(xmlBytes)}}
	if msg.relayState != "" {
		form.Set("RelayState", msg.relayState)
	}
	out.PostForm, out.Form = form, form
	return out, nil
}

// classify turns crewjam's classified errors into sentences a person
// understands.
func classify(err error) error {
	reason := "The sign-in request is not a valid SAML AuthnRequest."
	switch {
	case errors.Is(err, crewjam.ErrUnknownServiceProvider):
		reason = "The sign-in request comes from a service provider flexidp does not know. An administrator must register it (idp sp add-flex)."
	case errors.Is(err, crewjam.ErrUnknownAssertionConsumerService):
		reason = "The sign-in request asks for the response to go to an address (ACS URL) that is not registered for this service provider. Nothing was sent."
	case errors.Is(err, crewjam.ErrExpired):
		reason = "The sign-in request has expired. Go back to Flex and sign in again."
	case errors.Is(err, crewjam.ErrNotYetValid):
		reason = "The sign-in request is dated in the future; check the clocks of flexidp and the service provider."
	case errors.Is(err, crewjam.ErrDestinationMismatch):
		reason = "The sign-in request was addressed to another identity provider (its Destination is not this SSO URL)."
	case errors.Is(err, crewjam.ErrInvalidSignature):
		reason = "The sign-in request's signature cannot be verified with a certificate registered for this service provider."
	case errors.Is(err, crewjam.ErrMissingElement):
		reason = "The sign-in request lacks a required element (ID or Issuer)."
	case errors.Is(err, crewjam.ErrUnsupported):
		reason = "The sign-in request uses a SAML feature flexidp does not support."
	case errors.Is(err, crewjam.ErrMalformedMessage):
		msg := err.Error()
		switch {
		case strings.Contains(msg, "SigAlg and Signature"):
			reason = "The sign-in request's signature is incomplete: the SigAlg and Signature parameters must be sent together."
		case strings.Contains(msg, "decode"):
			reason = "The SAMLRequest parameter is not valid base64."
		case strings.Contains(msg, "decompress"):
			reason = "The SAMLRequest parameter is not valid DEFLATE data (HTTP-Redirect binding)."
		default:
			reason = "The SAMLRequest is not well-formed, safe XML."
		}
	}
	return &RequestError{Reason: reason, Err: err}
}

// nameIDFormat chooses the NameID format for a response: the SP policy's,
// unless the request asked for a specific, different one, which is an
// InvalidNameIDPolicy error.
func nameIDFormat(req *Request, released attributes.Released) *StatusError {
	if req == nil || req.NameIDFormat == "" || req.NameIDFormat == released.NameIDFormat {
		return nil
	}
	return &StatusError{
		Status:  "urn:oasis:names:tc:SAML:2.0:status:Requester",
		Second:  "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy",
		Message: fmt.Sprintf("NameID format %s is not configured for this service provider; it receives %s", req.NameIDFormat, released.NameIDFormat),
	}
}
