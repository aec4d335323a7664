package saml

import (
	"fmt"
	"strings"

	crewjam "github.com/crewjam/saml"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/sp"
)

// Second-level status codes of saml-core §3.2.2.2 used here.
const (
	statusUnsupportedBinding = "urn:oasis:names:tc:SAML:2.0:status:UnsupportedBinding"
	statusNoAuthnContext     = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"
	statusUnknownPrincipal   = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal"
	unspecifiedClass         = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
)

// authnClasses are the authentication context classes flexidp can state
// truthfully, strongest first. Every sign-in is a password over the
// transport the IdP is configured with: PasswordProtectedTransport over
// https; Password (a password, whatever protects it) always; unspecified
// always. No multi-factor class is offered: whether a second factor was
// asked depends on the user's role, not on the request, and the session
// does not record it, so a request for one cannot be promised.
func (i *IdP) authnClasses() []string {
	if i.cfg.SecureTransport {
		return []string{passwordProtectedTran, passwordClass, unspecifiedClass}
	}
	return []string{passwordClass, unspecifiedClass}
}

// authnContext chooses the class the Assertion states for the request's
// RequestedAuthnContext (saml-core §3.3.2.2.1): the strongest class
// flexidp can state that satisfies it, the first requested one for
// "exact" (the default), or a NoAuthnContext status when there is none.
// Classes are ranked as crewjam.DefaultAuthnContextClassStrengths ranks
// them (Password < PasswordProtectedTransport < X509 ...); an unranked
// class (unspecified, or one flexidp does not know) only matches itself,
// and never for "better". Without a requested class it returns "" (the
// default, the strongest).
func (i *IdP) authnContext(rac *crewjam.RequestedAuthnContext) (string, *StatusError) {
	if rac == nil || len(rac.ClassRefs()) == 0 {
		return "", nil
	}
	requested := rac.ClassRefs()
	rank := crewjam.DefaultAuthnContextClassStrengths()
	ranked := func(c, r string, cmp func(a, b int) bool) bool {
		a, aok := rank[c]
		b, bok := rank[r]
		return aok && bok && cmp(a, b)
	}
	var satisfies func(c, r string) bool
	switch rac.Comparison {
	case "", "exact":
		for _, r := range requested {
			for _, c := range i.authnClasses() {
				if c == r {
					return c, nil
				}
			}
		}
	case "minimum":
		satisfies = func(c, r string) bool { return c == r || ranked(c, r, func(a, b int) bool { return a >= b }) }
	case "maximum":
		satisfies = func(c, r string) bool { return c == r || ranked(c, r, func(a, b int) bool { return a <= b }) }
	case "better":
		satisfies = func(c, r string) bool { return ranked(c, r, func(a, b int) bool { return a > b }) }
	default:
		return "", &StatusError{Status: StatusRequester,
			Message: fmt.Sprintf("RequestedAuthnContext Comparison %q is not exact, minimum, maximum or better", rac.Comparison)}
	}
	if satisfies != nil {
		for _, c := range i.authnClasses() {
			for _, r := range requested {
				if satisfies(c, r) {
					return c, nil
				}
			}
		}
	}
	return "", &StatusError{Status: StatusResponder, Second: statusNoAuthnContext,
		Message: fmt.Sprintf("flexidp authenticates with %s; it cannot satisfy the requested authentication context (%s %s)",
			strings.Join(i.authnClasses(), ", "), orExact(rac.Comparison), strings.Join(requested, ", "))}
}

func orExact(c string) string {
	if c == "" {
		return "exact"
	}
	return c
}

// Subject is the principal an AuthnRequest names (saml-core §3.4.1: its
// <Subject>), by NameID.
type Subject struct {
	NameID          string `json:"name_id"`
	Format          string `json:"format,omitempty"`
	NameQualifier   string `json:"name_qualifier,omitempty"`
	SPNameQualifier string `json:"sp_name_qualifier,omitempty"`
}

// Email returns the NameID when it can be an email address to offer on the
// login form, or "".
func (s *Subject) Email() string {
	if s == nil || !strings.Contains(s.NameID, "@") ||
		s.Format != "" && s.Format != unspecifiedNameID && s.Format != attributes.NameIDFormatEmail {
		return ""
	}
	return s.NameID
}

// requestSubject reads the request's <Subject>. flexidp can only match a
// NameID: a Subject without one is the requester's mistake, one with a
// BaseID or EncryptedID is beyond flexidp (both UnknownPrincipal, as
// saml-core §3.4.1.4 and errata E75 want an error rather than an
// assertion about someone else).
func requestSubject(s *crewjam.Subject) (*Subject, *StatusError) {
	switch {
	case s == nil:
		return nil, nil
	case s.BaseID != nil || s.EncryptedID != nil:
		return nil, &StatusError{Status: StatusResponder, Second: statusUnknownPrincipal,
			Message: "flexidp matches a requested Subject by NameID only, not BaseID or EncryptedID"}
	case s.NameID == nil || s.NameID.Value == "":
		return nil, &StatusError{Status: StatusRequester, Second: statusUnknownPrincipal,
			Message: "the requested Subject has no NameID"}
	}
	return &Subject{NameID: s.NameID.Value, Format: s.NameID.Format,
		NameQualifier: s.NameID.NameQualifier, SPNameQualifier: s.NameID.SPNameQualifier}, nil
}

// subjectMismatch returns an UnknownPrincipal status when req names a
// Subject that is not the user whose attributes rel are: the Assertion
// must be about the requested subject (saml-core §3.4.1.4), never about
// whoever happens to be signed in. The NameID is compared as flexidp would
// send it: value (case-insensitively for emails), format unless the
// request leaves it unspecified, and any qualifier the request gives.
func (i *IdP) subjectMismatch(req *Request, s sp.ServiceProvider, rel attributes.Released) *StatusError {
	if req == nil || req.Subject == nil {
		return nil
	}
	want := req.Subject
	var nq, spnq string
	if rel.NameIDFormat == attributes.NameIDFormatPersistent {
		nq, spnq = i.cfg.EntityID, s.EntityID
	}
	same := want.NameID == rel.NameID ||
		rel.NameIDFormat == attributes.NameIDFormatEmail && strings.EqualFold(want.NameID, rel.NameID)
	if same && (want.Format == "" || want.Format == unspecifiedNameID || want.Format == rel.NameIDFormat) &&
		(want.NameQualifier == "" || want.NameQualifier == nq) &&
		(want.SPNameQualifier == "" || want.SPNameQualifier == spnq) {
		return nil
	}
	return &StatusError{Status: StatusRequester, Second: statusUnknownPrincipal,
		Message: "the signed-in user is not the subject the request names"}
}
