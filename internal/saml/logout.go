package saml

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/flexidp/flexidp/internal/sp"
)

// LogoutRequest is a validated LogoutRequest (saml-core §3.7.1) from a
// service provider, reduced to what the web layer needs to end a session
// and answer.
type LogoutRequest struct {
	ID string
	// SP is the Name of the service provider that sent it.
	SP string
	// NameID identifies the user as the SP knows them.
	NameID string
	// SessionIndexes are the sessions to end, as the Responses named them.
	SessionIndexes []string
	// RelayState is echoed back unchanged.
	RelayState string
	// Redirect says the request came with the HTTP-Redirect binding; the
	// LogoutResponse goes back with the same binding.
	Redirect bool
	// SLOURL is the SP's registered SingleLogoutService: the only place the
	// LogoutResponse goes.
	SLOURL       string
	IssueInstant time.Time
}

// ReplayKey is the key under which the request's ID is recorded once
// answered.
func (r *LogoutRequest) ReplayKey() string { return "logout:" + r.SP + ":" + r.ID }

// ReplayExpiry is how long the ReplayKey must be kept.
func (r *LogoutRequest) ReplayExpiry() time.Time {
	return r.IssueInstant.Add(crewjam.MaxIssueDelay + crewjam.MaxClockSkew)
}

// ParseLogoutRequest decodes and validates the LogoutRequest carried by r
// (HTTP-Redirect with GET, HTTP-POST with POST): safe XML (see inspect),
// SAML 2.0, an ID, an Issuer registered as an SP with a single logout URL,
// any Destination equal to our SLO URL, a current IssueInstant and
// NotOnOrAfter, and a NameID. When the SP has registered signing
// certificates, the request must be signed with one of them; otherwise its
// signature cannot be checked, so the caller must tie the request to the
// browser's session by its SessionIndex before ending anything (it does so
// in every case). Failures are *RequestError.
func (i *IdP) ParseLogoutRequest(r *http.Request, lookup Lookup) (*LogoutRequest, sp.ServiceProvider, error) {
	var found sp.ServiceProvider
	m, err := inspect(r, "SAMLRequest")
	if err != nil {
		return nil, found, err
	}
	var lr crewjam.LogoutRequest
	if err := xml.Unmarshal(m.xml, &lr); err != nil {
		return nil, found, &RequestError{Reason: "The SAMLRequest is not a SAML LogoutRequest.", Err: err}
	}
	if lr.Version != "2.0" || lr.ID == "" {
		return nil, found, &RequestError{Reason: "The LogoutRequest is not SAML 2.0 or has no ID."}
	}
	if lr.Issuer == nil || lr.Issuer.Value == "" {
		return nil, found, &RequestError{Reason: "The LogoutRequest has no Issuer."}
	}
	s, ok, err := lookup(r.Context(), lr.Issuer.Value)
	if err != nil {
		return nil, found, fmt.Errorf("%w: %w", ErrLookup, err)
	}
	if !ok {
		return nil, found, &RequestError{Reason: "The LogoutRequest comes from a service provider flexidp does not know."}
	}
	found = s
	if s.SLOURL == "" {
		return nil, found, &RequestError{Reason: fmt.Sprintf("Service provider %s has no single logout URL registered (idp sp set --slo-url), so flexidp cannot answer its LogoutRequest.", s.Name)}
	}
	if lr.Destination != "" && lr.Destination != i.cfg.SLOURL {
		return nil, found, &RequestError{Reason: "The LogoutRequest was addressed to another identity provider (its Destination is not this SLO URL)."}
	}
	now := i.now()
	if lr.IssueInstant.Add(crewjam.MaxIssueDelay).Before(now) ||
		lr.NotOnOrAfter != nil && !now.Before(lr.NotOnOrAfter.Add(crewjam.MaxClockSkew)) {
		return nil, found, &RequestError{Reason: "The LogoutRequest has expired."}
	}
	if lr.IssueInstant.Add(-crewjam.MaxClockSkew).After(now) {
		return nil, found, &RequestError{Reason: "The LogoutRequest is dated in the future; check the clocks of flexidp and the service provider."}
	}
	if s.RequiresSignedRequests() {
		if err := checkSigned(r, m, s, "LogoutRequest"); err != nil {
			return nil, found, err
		}
	}
	if len(s.SigningCertificates()) > 0 && (s.RequiresSignedRequests() || signaturePresent(r, m)) {
		// The SP registered its signing certificate: the request must be
		// signed with it (or, if it may send unsigned requests, a signature
		// it sends must verify). crewjam checks the signature (query string
		// or enveloped) and reads the request again from what it covers.
		signed, err := i.verifyLogoutSignature(r, s)
		if err != nil {
			return nil, found, err
		}
		lr = signed
	}
	if lr.NameID == nil || lr.NameID.Value == "" {
		return nil, found, &RequestError{Reason: "The LogoutRequest does not name the user (NameID); encrypted and base identifiers are not supported."}
	}
	out := &LogoutRequest{
		ID: lr.ID, SP: s.Name, NameID: lr.NameID.Value, RelayState: m.relayState,
		Redirect: m.redirect, SLOURL: s.SLOURL, IssueInstant: lr.IssueInstant.UTC(),
	}
	for _, si := range lr.AllSessionIndexes() {
		out.SessionIndexes = append(out.SessionIndexes, si.Value)
	}
	return out, found, nil
}

// verifyLogoutSignature validates the LogoutRequest in r with crewjam
// against the signing certificates registered for s and returns the
// request as its signature covers it.
func (i *IdP) verifyLogoutSignature(r *http.Request, s sp.ServiceProvider) (crewjam.LogoutRequest, error) {
	provider, err := i.provider(providerFunc(func(*http.Request, string) (*crewjam.EntityDescriptor, error) {
		ed := entityDescriptor(s)
		ed.SPSSODescriptors[0].SingleLogoutServices = []crewjam.Endpoint{
			{Binding: crewjam.HTTPRedirectBinding, Location: s.SLOURL},
			{Binding: crewjam.HTTPPostBinding, Location: s.SLOURL},
		}
		return ed, nil
	}))
	if err != nil {
		return crewjam.LogoutRequest{}, err
	}
	req, err := crewjam.NewIdpLogoutRequest(provider, r)
	if err == nil {
		req.Now = i.now()
		err = req.Validate()
	}
	if err != nil {
		return crewjam.LogoutRequest{}, &RequestError{
			Reason: "The LogoutRequest's signature cannot be verified with the certificate registered for this service provider.", Err: err}
	}
	return req.Request, nil
}

// Logout status codes (saml-core §3.2.2.2).
const (
	StatusSuccess   = "urn:oasis:names:tc:SAML:2.0:status:Success"
	StatusRequester = "urn:oasis:names:tc:SAML:2.0:status:Requester"
	StatusResponder = "urn:oasis:names:tc:SAML:2.0:status:Responder"
)

// LogoutResponse is a signed LogoutResponse ready to send: for the
// HTTP-POST binding, post SAMLResponse (and RelayState) to URL; for
// HTTP-Redirect, send the browser to RedirectURL.
type LogoutResponse struct {
	URL          string
	SAMLResponse string
	RelayState   string
	RedirectURL  string
	ID           string
}

// RespondLogout builds the LogoutResponse to req with the top-level status
// code, addressed to the SP's registered SLO URL and signed: enveloped for
// HTTP-POST, with a query string signature for HTTP-Redirect
// (saml-bindings §3.4.4.1).
func (i *IdP) RespondLogout(req *LogoutRequest, status string) (*LogoutResponse, error) {
	ks := i.keys.Load()
	if ks == nil {
		return nil, errNoKeys
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	resp := &crewjam.LogoutResponse{
		ID: id, InResponseTo: req.ID, Version: "2.0", IssueInstant: i.now(), Destination: req.SLOURL,
		Issuer: &crewjam.Issuer{Format: entityFormat, Value: i.cfg.EntityID},
		Status: crewjam.Status{StatusCode: crewjam.StatusCode{Value: status}},
	}
	ctx, err := dsig.NewSigningContext(ks.Signer, [][]byte{ks.Certificate.Raw})
	if err != nil {
		return nil, fmt.Errorf("sign logout response: %w", err)
	}
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		return nil, fmt.Errorf("sign logout response: %w", err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	out := &LogoutResponse{URL: req.SLOURL, RelayState: req.RelayState, ID: id}
	if req.Redirect {
		out.RedirectURL, err = redirectURL(ctx, req.SLOURL, resp.Element(), req.RelayState)
		return out, err
	}
	sig, err := ctx.ConstructSignature(resp.Element(), true)
	if err != nil {
		return nil, fmt.Errorf("sign logout response: %w", err)
	}
	resp.Signature = sig // placed after Issuer, as the schema wants
	doc := etree.NewDocument()
	doc.SetRoot(resp.Element())
	buf, err := doc.WriteToBytes()
	if err != nil {
		return nil, fmt.Errorf("serialise logout response: %w", err)
	}
	out.SAMLResponse = base64.StdEncoding.EncodeToString(buf)
	return out, nil
}

// redirectURL encodes el for the HTTP-Redirect binding and signs the
// query: SAMLResponse, RelayState and SigAlg, in that order, as sent.
func redirectURL(ctx *dsig.SigningContext, dest string, el *etree.Element, relayState string) (string, error) {
	doc := etree.NewDocument()
	doc.SetRoot(el)
	raw, err := doc.WriteToBytes()
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	if _, err := fw.Write(raw); err != nil {
		return "", err
	}
	if err := fw.Close(); err != nil {
		return "", err
	}
	q := "SAMLResponse=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes()))
	if relayState != "" {
		q += "&RelayState=" + url.QueryEscape(relayState)
	}
	q += "&SigAlg=" + url.QueryEscape(ctx.GetSignatureMethodIdentifier())
	sig, err := ctx.SignString(q)
	if err != nil {
		return "", fmt.Errorf("sign logout response: %w", err)
	}
	q += "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
	sep := "?"
	if strings.Contains(dest, "?") {
		sep = "&"
	}
	return dest + sep + q, nil
}
