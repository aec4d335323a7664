package saml

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	crewjam "github.com/crewjam/saml"
)

// The canonical writer.
//
// A Response is written here directly in exclusive XML canonical form
// (xml-exc-c14n, empty InclusiveNamespaces prefix list), so the bytes that
// are digested are the bytes that are sent and nothing is parsed or
// re-canonicalised: attributes in canonical order (namespace declarations
// first, by prefix, then the others by namespace URI and local name, and
// all of ours are unqualified but xsi:type), canonical escaping, no empty
// element tags, and on each element exactly the namespace declarations
// exc-c14n renders there. The Assertion is signed first, as a subtree on
// its own (so it declares saml itself); the Response is then signed over
// everything, the Assertion's Signature included.
//
// The QName "xs:string" in each xsi:type needs xmlns:xs, which no element
// or attribute name uses, so plain exc-c14n would drop it and leave the
// binding of "xs" outside both signatures (crewjam/saml declares it on the
// root and it is signed by neither): anyone on the way could rebind the
// prefix. So the Assertion declares xmlns:xs itself, and both References'
// exc-c14n transforms name "xs" in an InclusiveNamespaces PrefixList (xml-
// exc-c14n §3, as Shibboleth does): the declaration is rendered on the
// Assertion in both canonical forms, and both signatures cover it
// (TestXSPrefixSigned).
//
// The content comes from the same crewjam.Assertion the reference path
// (respondReference, crewjam's MakeResponse) serialises; the differential
// test compares both, and the fuzz test checks that goxmldsig's
// canonicaliser gives the emitted bytes back unchanged.

// Namespaces and algorithm identifiers written by the canonical writer.
const (
	nsAssertion  = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsProtocol   = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsXS         = "http://www.w3.org/2001/XMLSchema"
	nsXSI        = "http://www.w3.org/2001/XMLSchema-instance"
	nsDSig       = "http://www.w3.org/2000/09/xmldsig#"
	algExcC14N   = "http://www.w3.org/2001/10/xml-exc-c14n#"
	algRSASHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	algEnveloped = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
	algSHA256    = "http://www.w3.org/2001/04/xmlenc#sha256"

	// timeLayout is crewjam's: UTC, at most millisecond precision,
	// trailing zeros dropped (saml-core §1.3.3 xs:dateTime in UTC).
	timeLayout = "2006-01-02T15:04:05.999Z07:00"

	// prefixList is the exc-c14n InclusiveNamespaces PrefixList of both
	// References (see above).
	prefixList = "xs"
)

// errXMLText is what the writer reports when a value it was given cannot
// be carried by XML (invalid UTF-8, or a character outside XML's Char
// production). Respond checks user values first and reports them as an
// *attributes.Error or a *RequestError; this is the backstop.
var errXMLText = errors.New("saml: a value of the Response is not valid UTF-8 or holds a character XML cannot carry")

// xmlTextReason says why s cannot be carried in XML text or an attribute
// value, or returns "". Valid: UTF-8 characters of XML 1.0's Char
// production (#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
// [#x10000-#x10FFFF]). Encoded surrogates are invalid UTF-8.
func xmlTextReason(s string) string {
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b < 0x20 && b != '\t' && b != '\n' && b != '\r' {
				return fmt.Sprintf("contains the control character U+%04X, which XML cannot carry", b)
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 {
			return "not valid UTF-8"
		}
		if r == 0xFFFE || r == 0xFFFF {
			return fmt.Sprintf("contains U+%04X, which XML cannot carry", r)
		}
		i += w
	}
	return ""
}

// canonical appends XML in canonical form to b. The first value that XML
// cannot carry sets err; what is written after it is discarded.
type canonical struct {
	b   []byte
	err error
}

// open writes "<name"; attributes follow, then close.
func (c *canonical) open(name string) {
	c.b = append(c.b, '<')
	c.b = append(c.b, name...)
}

// attr writes one attribute; callers write them in canonical order.
func (c *canonical) attr(name, value string) {
	c.b = append(c.b, ' ')
	c.b = append(c.b, name...)
	c.b = append(c.b, '=', '"')
	c.escape(value, true)
	c.b = append(c.b, '"')
}

// timeAttr writes a time attribute in crewjam's format.
func (c *canonical) timeAttr(name string, t time.Time) {
	c.b = append(c.b, ' ')
	c.b = append(c.b, name...)
	c.b = append(c.b, '=', '"')
	c.b = t.UTC().AppendFormat(c.b, timeLayout)
	c.b = append(c.b, '"')
}

// close ends a start tag.
func (c *canonical) close() { c.b = append(c.b, '>') }

// end writes an end tag: canonical form has no empty-element tags.
func (c *canonical) end(name string) {
	c.b = append(c.b, '<', '/')
	c.b = append(c.b, name...)
	c.b = append(c.b, '>')
}

// leaf writes <name>text</name>.
func (c *canonical) leaf(name, text string) {
	c.open(name)
	c.close()
	c.escape(text, false)
	c.end(name)
}

// escape writes s as canonical text (attr false: & < > and CR escaped) or
// as a canonical attribute value (attr true: & < " TAB LF CR escaped), as
// c14n §2.3 does.
func (c *canonical) escape(s string, attr bool) {
	plain := &textPlain
	if attr {
		plain = &attrPlain
	}
	last := 0
	for i := 0; i < len(s); {
		b := s[i]
		if plain[b] { // most bytes: copied as they are, no case to try
			i++
			continue
		}
		if b >= utf8.RuneSelf {
			r, w := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && w == 1 || r == 0xFFFE || r == 0xFFFF {
				c.err = errXMLText
				return
			}
			i += w
			continue
		}
		var esc string
		switch {
		case b == '&':
			esc = "&amp;"
		case b == '<':
			esc = "&lt;"
		case b == '>' && !attr:
			esc = "&gt;"
		case b == '"' && attr:
			esc = "&quot;"
		case b == '\r':
			esc = "&#xD;"
		case b == '\t' && attr:
			esc = "&#x9;"
		case b == '\n' && attr:
			esc = "&#xA;"
		case b < 0x20 && b != '\t' && b != '\n':
			c.err = errXMLText
			return
		}
		i++
		if esc != "" {
			c.b = append(c.b, s[last:i-1]...)
			c.b = append(c.b, esc...)
			last = i
		}
	}
	c.b = append(c.b, s[last:]...)
}

// textPlain and attrPlain are the ASCII bytes escape copies as they are
// in text and in an attribute value: every byte the switch in escape
// neither replaces nor refuses. Bytes from 0x80 up are never plain (they
// are checked as UTF-8).
var textPlain, attrPlain = func() (text, attr [256]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		text[b] = b != '&' && b != '<' && b != '>'
		attr[b] = b != '&' && b != '<' && b != '"'
	}
	text['\t'], text['\n'] = true, true
	return text, attr
}()

// issuer writes a saml:Issuer with the entity format; decl adds the
// xmlns:saml declaration exc-c14n renders when no ancestor has it.
func (c *canonical) issuer(value string, decl bool) {
	c.open("saml:Issuer")
	if decl {
		c.attr("xmlns:saml", nsAssertion)
	}
	c.attr("Format", entityFormat)
	c.close()
	c.escape(value, false)
	c.end("saml:Issuer")
}

// unsupported reports a field of a the writer does not write. assertion()
// sets none of them; this keeps a future change from being dropped
// silently instead of failing the differential test.
func unsupported(a *crewjam.Assertion) error {
	bad := a.Subject == nil || a.Subject.NameID == nil || a.Subject.BaseID != nil || a.Subject.EncryptedID != nil ||
		a.Conditions == nil || a.Conditions.OneTimeUse != nil || a.Conditions.ProxyRestriction != nil
	for _, sc := range a.Subject.SubjectConfirmations {
		bad = bad || sc.NameID != nil || sc.EncryptedID != nil || sc.SubjectConfirmationData == nil ||
			!sc.SubjectConfirmationData.NotBefore.IsZero() || sc.SubjectConfirmationData.Address != ""
	}
	for _, st := range a.AuthnStatements {
		bad = bad || st.SubjectLocality != nil || st.AuthnContext.AuthnContextClassRef == nil || len(st.AuthnContext.AuthenticatingAuthorities) > 0
	}
	for _, as := range a.AttributeStatements {
		for _, at := range as.Attributes {
			bad = bad || at.FriendlyName != ""
			for _, v := range at.Values {
				bad = bad || v.NameID != nil || v.Nil || v.Encoding != ""
			}
		}
	}
	if bad || a.Subject.NameID.SPProvidedID != "" {
		return errors.New("saml: the canonical writer does not write a field set in this assertion")
	}
	return nil
}

// assertion writes a (without its Signature) and returns the offset where
// the Signature goes: right after the Issuer (saml-core §2.3.3).
func (c *canonical) assertion(a *crewjam.Assertion) (sigAt int) {
	c.open("saml:Assertion")
	c.attr("xmlns:saml", nsAssertion)
	c.attr("xmlns:xs", nsXS)
	c.attr("ID", a.ID)
	c.timeAttr("IssueInstant", a.IssueInstant)
	c.attr("Version", "2.0")
	c.close()
	c.open("saml:Issuer")
	if a.Issuer.Format != "" {
		c.attr("Format", a.Issuer.Format)
	}
	c.close()
	c.escape(a.Issuer.Value, false)
	c.end("saml:Issuer")
	sigAt = len(c.b)

	c.open("saml:Subject")
	c.close()
	n := a.Subject.NameID
	c.open("saml:NameID")
	if n.Format != "" {
		c.attr("Format", n.Format)
	}
	if n.NameQualifier != "" {
		c.attr("NameQualifier", n.NameQualifier)
	}
	if n.SPNameQualifier != "" {
		c.attr("SPNameQualifier", n.SPNameQualifier)
	}
	c.close()
	c.escape(n.Value, false)
	c.end("saml:NameID")
	for _, sc := range a.Subject.SubjectConfirmations {
		c.open("saml:SubjectConfirmation")
		c.attr("Method", sc.Method)
		c.close()
		d := sc.SubjectConfirmationData
		c.open("saml:SubjectConfirmationData")
		if d.InResponseTo != "" {
			c.attr("InResponseTo", d.InResponseTo)
		}
		if !d.NotOnOrAfter.IsZero() {
			c.timeAttr("NotOnOrAfter", d.NotOnOrAfter)
		}
		if d.Recipient != "" {
			c.attr("Recipient", d.Recipient)
		}
		c.close()
		c.end("saml:SubjectConfirmationData")
		c.end("saml:SubjectConfirmation")
	}
	c.end("saml:Subject")

	c.open("saml:Conditions")
	if !a.Conditions.NotBefore.IsZero() {
		c.timeAttr("NotBefore", a.Conditions.NotBefore)
	}
	if !a.Conditions.NotOnOrAfter.IsZero() {
		c.timeAttr("NotOnOrAfter", a.Conditions.NotOnOrAfter)
	}
	c.close()
	for _, ar := range a.Conditions.AudienceRestrictions {
		c.open("saml:AudienceRestriction")
		c.close()
		c.leaf("saml:Audience", ar.Audience.Value)
		for _, au := range ar.AdditionalAudiences {
			c.leaf("saml:Audience", au.Value)
		}
		c.end("saml:AudienceRestriction")
	}
	c.end("saml:Conditions")

	for _, st := range a.AuthnStatements {
		c.open("saml:AuthnStatement")
		c.timeAttr("AuthnInstant", st.AuthnInstant)
		if st.SessionIndex != "" {
			c.attr("SessionIndex", st.SessionIndex)
		}
		if st.SessionNotOnOrAfter != nil {
			c.timeAttr("SessionNotOnOrAfter", *st.SessionNotOnOrAfter)
		}
		c.close()
		c.open("saml:AuthnContext")
		c.close()
		c.leaf("saml:AuthnContextClassRef", st.AuthnContext.AuthnContextClassRef.Value)
		c.end("saml:AuthnContext")
		c.end("saml:AuthnStatement")
	}

	for _, as := range a.AttributeStatements {
		c.open("saml:AttributeStatement")
		c.close()
		for _, at := range as.Attributes {
			c.open("saml:Attribute")
			if at.Name != "" {
				c.attr("Name", at.Name)
			}
			if at.NameFormat != "" {
				c.attr("NameFormat", at.NameFormat)
			}
			c.close()
			for _, v := range at.Values {
				// xmlns:xs is declared on the Assertion (see above).
				c.open("saml:AttributeValue")
				c.attr("xmlns:xsi", nsXSI)
				if v.Type != "" {
					c.attr("xsi:type", v.Type)
				}
				c.close()
				c.escape(v.Value, false)
				c.end("saml:AttributeValue")
			}
			c.end("saml:Attribute")
		}
		c.end("saml:AttributeStatement")
	}
	c.end("saml:Assertion")
	return sigAt
}

// responseHead is the start of a Response as writeResponse needs it.
type responseHead struct {
	ID, InResponseTo, Destination, Issuer string
	IssueInstant                          time.Time
	Status                                *StatusError // nil: Success
}

// writeResponse writes the signed Response: h, then a (nil for an error
// Response), both signed with ks.
func writeResponse(ks *KeySet, h responseHead, a *crewjam.Assertion) ([]byte, error) {
	if ks == nil {
		return nil, errNoKeys
	}
	if v := reflect.ValueOf(ks.Signer); !v.IsValid() || v.Kind() == reflect.Pointer && v.IsNil() {
		// A typed nil (a failed key parse) would panic when used.
		return nil, errors.New("saml: cannot sign: the key set has no private key")
	}
	if ks.Certificate == nil {
		return nil, errors.New("saml: cannot sign: the key set has no certificate")
	}
	if _, ok := ks.Signer.Public().(*rsa.PublicKey); !ok {
		return nil, fmt.Errorf("saml: cannot sign with a %T key: flexidp signs with RSA-SHA256", ks.Signer.Public())
	}
	if a != nil {
		if err := unsupported(a); err != nil {
			return nil, err
		}
	}
	sc := scratches.Get().(*scratch)
	defer sc.put()
	c := &sc.body
	if need := estimate(h, a, ks); cap(c.b) < need {
		c.b = make([]byte, 0, need)
	}
	c.open("samlp:Response")
	c.attr("xmlns:samlp", nsProtocol)
	c.attr("Destination", h.Destination)
	c.attr("ID", h.ID)
	if h.InResponseTo != "" {
		c.attr("InResponseTo", h.InResponseTo)
	}
	c.timeAttr("IssueInstant", h.IssueInstant)
	c.attr("Version", "2.0")
	c.close()
	c.issuer(h.Issuer, true)
	respSigAt := len(c.b)
	c.open("samlp:Status")
	c.close()
	if h.Status == nil {
		c.open("samlp:StatusCode")
		c.attr("Value", crewjam.StatusSuccess)
		c.close()
		c.end("samlp:StatusCode")
	} else {
		c.open("samlp:StatusCode")
		c.attr("Value", h.Status.Status)
		c.close()
		if h.Status.Second != "" {
			c.open("samlp:StatusCode")
			c.attr("Value", h.Status.Second)
			c.close()
			c.end("samlp:StatusCode")
		}
		c.end("samlp:StatusCode")
		if h.Status.Message != "" {
			c.leaf("samlp:StatusMessage", h.Status.Message)
		}
	}
	c.end("samlp:Status")
	asStart, asSigAt, asEnd := 0, 0, 0
	if a != nil {
		asStart = len(c.b)
		asSigAt = c.assertion(a)
		asEnd = len(c.b)
	}
	c.end("samlp:Response")
	if c.err != nil {
		return nil, c.err
	}
	body := c.b

	// Both signatures go into sc.sigs, the Assertion's first.
	sigs := &sc.sigs
	asSigEnd := 0
	if a != nil {
		d := sha256.Sum256(body[asStart:asEnd])
		if err := sc.signature(ks, a.ID, d[:]); err != nil {
			return nil, err
		}
		asSigEnd = len(sigs.b)
	}
	asSig := sigs.b[:asSigEnd]
	// The Response's digest: its canonical form, which is body with the
	// Assertion's Signature in place.
	hr := sc.hash
	hr.Reset()
	if a != nil {
		hr.Write(body[:asSigAt])
		hr.Write(asSig)
		hr.Write(body[asSigAt:])
	} else {
		hr.Write(body)
	}
	if err := sc.signature(ks, h.ID, hr.Sum(sc.sum[:0])); err != nil {
		return nil, err
	}
	asSig, respSig := sigs.b[:asSigEnd], sigs.b[asSigEnd:]
	// The document, put together in the one allocation that leaves this
	// function: nothing of sc (which goes back to the pool) is in it.
	out := make([]byte, 0, len(body)+len(asSig)+len(respSig))
	out = append(out, body[:respSigAt]...)
	out = append(out, respSig...)
	if a != nil {
		out = append(out, body[respSigAt:asSigAt]...)
		out = append(out, asSig...)
		out = append(out, body[asSigAt:]...)
	} else {
		out = append(out, body[respSigAt:]...)
	}
	return out, nil
}

// scratch is what writing one Response needs besides the document it
// returns: the body without signatures, the two signatures and a SHA-256
// state. Scratches are kept in a pool, so their buffers arrive already
// sized by the Responses before; the document itself is always a fresh
// allocation (writeResponse), so no Response's bytes are ever in another's
// (TestConcurrentResponsesShareNoBytes).
type scratch struct {
	body, sigs canonical
	hash       hash.Hash
	sum        [sha256.Size]byte
}

var scratches = sync.Pool{New: func() any { return &scratch{hash: sha256.New()} }}

// maxScratch is the largest buffer put back in the pool: a Response
// with very many attributes does not pin its buffers for good.
const maxScratch = 256 << 10

// put resets sc and returns it to the pool.
func (sc *scratch) put() {
	if cap(sc.body.b) > maxScratch || cap(sc.sigs.b) > maxScratch {
		return
	}
	sc.body = canonical{b: sc.body.b[:0]}
	sc.sigs = canonical{b: sc.sigs.b[:0]}
	scratches.Put(sc)
}

// estimate is the length of the signed Response, or a little more, so
// that its buffer is allocated once.
func estimate(h responseHead, a *crewjam.Assertion, ks *KeySet) int {
	// Markup and fixed values of a Response and its Assertion, and a
	// signature without its certificate.
	const response, assertion, signature = 1200, 1600, 1600
	n := response + len(h.Destination) + len(h.InResponseTo) + len(h.Issuer) + signature
	if h.Status != nil {
		n += len(h.Status.Status) + len(h.Status.Second) + len(h.Status.Message)
	}
	n += base64.StdEncoding.EncodedLen(len(ks.Certificate.Raw))
	if a == nil {
		return n + n/8
	}
	n += assertion + signature + base64.StdEncoding.EncodedLen(len(ks.Certificate.Raw)) +
		2*len(h.Destination) + 2*len(a.Issuer.Value) + len(a.Subject.NameID.Value) + len(a.Subject.NameID.NameQualifier) +
		len(a.Subject.NameID.SPNameQualifier) + len(a.Subject.NameID.Format) + len(h.InResponseTo)
	for _, ar := range a.Conditions.AudienceRestrictions {
		n += 40 + len(ar.Audience.Value)
	}
	for _, st := range a.AuthnStatements {
		n += len(st.SessionIndex) + len(st.AuthnContext.AuthnContextClassRef.Value)
	}
	for _, as := range a.AttributeStatements {
		for _, at := range as.Attributes {
			n += 60 + len(at.Name) + len(at.NameFormat)
			for _, v := range at.Values {
				n += 140 + len(v.Value)
			}
		}
	}
	return n + n/8
}

// signature appends to sc.sigs the enveloped ds:Signature, in canonical
// form as a child of a signed element (which does not declare ds), over
// the element whose ID is id and whose canonical form (without this
// signature) has the SHA-256 digest digest: one Reference,
// enveloped-signature then exc-c14n (with the InclusiveNamespaces
// PrefixList "xs") transforms, RSA-SHA256, and the certificate in KeyInfo,
// as goxmldsig's SigningContext writes it. It uses sc.hash and sc.sum;
// digest may be sc.sum: it is read before sc.sum is written.
func (sc *scratch) signature(ks *KeySet, id string, digest []byte) error {
	const head = `<ds:Signature xmlns:ds="` + nsDSig + `">`
	c := &sc.sigs
	start := len(c.b)
	c.b = append(c.b, head+`<ds:SignedInfo><ds:CanonicalizationMethod Algorithm="`+algExcC14N+`"></ds:CanonicalizationMethod>`+
		`<ds:SignatureMethod Algorithm="`+algRSASHA256+`"></ds:SignatureMethod><ds:Reference URI="#`...)
	c.escape(id, true)
	c.b = append(c.b, `"><ds:Transforms><ds:Transform Algorithm="`+algEnveloped+`"></ds:Transform>`+
		`<ds:Transform Algorithm="`+algExcC14N+`"><ec:InclusiveNamespaces xmlns:ec="`+algExcC14N+`" PrefixList="`+prefixList+`"></ec:InclusiveNamespaces></ds:Transform></ds:Transforms>`+
		`<ds:DigestMethod Algorithm="`+algSHA256+`"></ds:DigestMethod><ds:DigestValue>`...)
	c.b = base64.StdEncoding.AppendEncode(c.b, digest)
	c.b = append(c.b, `</ds:DigestValue></ds:Reference></ds:SignedInfo>`...)
	if c.err != nil {
		return c.err
	}
	// SignedInfo is canonicalised as a subtree on its own, so there it
	// declares ds; in the document the Signature declares it.
	h := sc.hash
	h.Reset()
	h.Write(signedInfoDS)
	h.Write(c.b[start+len(head+`<ds:SignedInfo>`):])
	var sig []byte
	var err error
	if key, ok := ks.Signer.(*rsa.PrivateKey); ok {
		sig, err = signRSA(key, h.Sum(sc.sum[:0]))
	} else { // a signer of another kind (a hardware module) signs where it is called
		sig, err = ks.Signer.Sign(rand.Reader, h.Sum(sc.sum[:0]), crypto.SHA256)
	}
	if err != nil {
		return fmt.Errorf("sign response: %w", err)
	}
	c.b = append(c.b, `<ds:SignatureValue>`...)
	c.b = base64.StdEncoding.AppendEncode(c.b, sig)
	c.b = append(c.b, keyInfoOf(ks.Certificate.Raw)...)
	return nil
}

// signedInfoDS is the start tag of SignedInfo canonicalised on its own.
var signedInfoDS = []byte(`<ds:SignedInfo xmlns:ds="` + nsDSig + `">`)

// keyInfo is the end of a Signature for one certificate: from the end of
// SignatureValue on, KeyInfo with the certificate in base64.
type keyInfo struct {
	raw, tail []byte
}

// lastKeyInfo is the keyInfo of the certificate signed with last: the
// same for every Response until the keys change.
var lastKeyInfo atomic.Pointer[keyInfo]

// keyInfoOf returns the end of a Signature for the certificate whose DER
// is raw, written once per certificate rather than once per Signature.
// It is looked up by the certificate's bytes, not by a pointer, so a
// Response never carries any certificate but the one it is signed with.
func keyInfoOf(raw []byte) []byte {
	if k := lastKeyInfo.Load(); k != nil && bytes.Equal(k.raw, raw) {
		return k.tail
	}
	const start, end = `</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>`, `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>`
	tail := make([]byte, 0, len(start)+base64.StdEncoding.EncodedLen(len(raw))+len(end))
	tail = append(tail, start...)
	tail = base64.StdEncoding.AppendEncode(tail, raw)
	tail = append(tail, end...)
	k := &keyInfo{raw: bytes.Clone(raw), tail: tail}
	lastKeyInfo.Store(k)
	return k.tail
}
