package saml_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/saml"
	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/sp"
)

// writerNow has a sub-millisecond part, which both paths must drop.
var writerNow = time.Date(2026, 11, 25, 12, 0, 0, 123456789, time.UTC)

// checkCanonical checks that doc is what goxmldsig's exclusive
// canonicaliser (prefix list "xs", as both signatures say) makes of it:
// the whole Response and the Assertion as a subtree on its own, each
// parsed afresh.
func checkCanonical(t testing.TB, doc []byte) {
	t.Helper()
	c14n := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("xs")
	root := parse(t, doc).Root()
	got, err := c14n.Canonicalize(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := doc; !bytes.Equal(got, want) {
		t.Fatalf("the Response is not in canonical form:\nemitted   %s\ncanonical %s", shorten(want), shorten(got))
	}
	start, end := bytes.Index(doc, []byte("<saml:Assertion ")), bytes.Index(doc, []byte("</saml:Assertion>"))
	a := parse(t, doc).Root().SelectElement("Assertion")
	if a == nil {
		if start >= 0 {
			t.Fatal("the parser sees no Assertion where the bytes have one")
		}
		return
	}
	got, err = c14n.Canonicalize(a)
	if err != nil {
		t.Fatal(err)
	}
	if want := doc[start : end+len("</saml:Assertion>")]; !bytes.Equal(got, want) {
		t.Fatalf("the Assertion is not in canonical form on its own:\nemitted   %s\ncanonical %s", shorten(want), shorten(got))
	}
}

// shorten keeps failure messages readable when a document is long.
func shorten(doc []byte) string {
	if len(doc) > 4000 {
		return fmt.Sprintf("%s…(%d bytes)", doc[:4000], len(doc))
	}
	return string(doc)
}

func parse(t testing.TB, doc []byte) *etree.Document {
	t.Helper()
	d := etree.NewDocument()
	if err := d.ReadFromBytes(doc); err != nil {
		t.Fatalf("the Response does not parse: %v\n%s", err, shorten(doc))
	}
	return d
}

// verifyBoth checks both signatures with goxmldsig (the Assertion's only
// if there is one) and, for a successful Response, has crewjam's SP accept
// it as the answer to reqID ("" unsolicited).
func verifyBoth(t testing.TB, idp *saml.IdP, cert *x509.Certificate, doc []byte, reqID string) *crewjam.Assertion {
	t.Helper()
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
	vc.Clock = dsig.NewFakeClockAt(cert.NotBefore.Add(time.Minute))
	root := parse(t, doc).Root()
	if _, err := vc.Validate(root.Copy()); err != nil {
		t.Fatalf("goxmldsig does not verify the Response: %v", err)
	}
	a := root.SelectElement("Assertion")
	if a == nil {
		return nil
	}
	if _, err := vc.Validate(a.Copy()); err != nil {
		t.Fatalf("goxmldsig does not verify the Assertion: %v", err)
	}
	acs, _ := url.Parse(testACS)
	csp := &crewjam.ServiceProvider{EntityID: testSP.EntityID, AcsURL: *acs, IDPMetadata: metadataOf(t, idp), AllowIDPInitiated: reqID == "",
		Clock: dsig.NewFakeClockAt(writerNow)}
	var ids []string
	if reqID != "" {
		// crewjam's SP re-serialises what it verified with a raw CR, and
		// reads it back as LF: it compares that with the request ID.
		ids = []string{strings.ReplaceAll(strings.ReplaceAll(reqID, "\r\n", "\n"), "\r", "\n")}
	}
	assertion, err := csp.ParseXMLResponse(doc, ids, *acs)
	if err != nil {
		var ie *crewjam.InvalidResponseError
		if errors.As(err, &ie) {
			err = ie.PrivateErr
		}
		t.Fatalf("crewjam's SP refuses the Response: %v\n%s", err, shorten(doc))
	}
	return assertion
}

// metadataOf is idp's metadata as crewjam's SP reads it.
func metadataOf(tb testing.TB, idp *saml.IdP) *crewjam.EntityDescriptor {
	tb.Helper()
	md, err := idp.Metadata()
	if err != nil {
		tb.Fatal(err)
	}
	var ed crewjam.EntityDescriptor
	if err := xml.Unmarshal(md, &ed); err != nil {
		tb.Fatal(err)
	}
	return &ed
}

// normalise describes the element el in a form both paths must agree on:
// element names with their namespace URI, attributes (not namespace
// declarations) with theirs, text, children in order, and, for
// xsi:type, the namespace its QName value resolves to. IDs are replaced
// by their role, digests and signature values by a placeholder.
func normalise(el *etree.Element, ids map[string]string, b *strings.Builder, depth int) {
	fmt.Fprintf(b, "%s{%s}%s", strings.Repeat("  ", depth), el.NamespaceURI(), el.Tag)
	var attrs []string
	for _, a := range el.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue
		}
		v := a.Value
		for id, role := range ids {
			v = strings.ReplaceAll(v, id, role)
		}
		if a.Space == "xsi" && a.Key == "type" {
			prefix, local, _ := strings.Cut(v, ":")
			v = "{" + lookupPrefix(el, prefix) + "}" + local
		}
		attrs = append(attrs, fmt.Sprintf("{%s}%s=%q", a.NamespaceURI(), a.Key, v))
	}
	sort.Strings(attrs)
	fmt.Fprintf(b, " %s", strings.Join(attrs, " "))
	text := el.Text()
	if el.NamespaceURI() == "http://www.w3.org/2000/09/xmldsig#" && (el.Tag == "DigestValue" || el.Tag == "SignatureValue") {
		text = "(" + el.Tag + ")"
	}
	fmt.Fprintf(b, " text=%q tail=%q\n", text, el.Tail())
	for _, c := range el.ChildElements() {
		normalise(c, ids, b, depth+1)
	}
}

// lookupPrefix returns the namespace prefix is bound to at el, or "".
func lookupPrefix(el *etree.Element, prefix string) string {
	for e := el; e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if a.Space == "xmlns" && a.Key == prefix {
				return a.Value
			}
		}
	}
	return ""
}

// describe is normalise for a whole Response.
func describe(t testing.TB, resp *saml.Response) string {
	t.Helper()
	ids := map[string]string{resp.ResponseID: "RESPONSE-ID"}
	if resp.AssertionID != "" {
		ids[resp.AssertionID] = "ASSERTION-ID"
	}
	var b strings.Builder
	normalise(parse(t, resp.XML).Root(), ids, &b, 0)
	return b.String()
}

// TestWriterMatchesReference is the differential test: the canonical
// writer and crewjam's MakeResponse (respondReference) answer each case
// with the same Response, element by element (names, namespaces,
// attributes and values, text, order, times from the IdP's clock), apart
// from IDs and signature values; both verify, and the writer's bytes are
// canonical.
func TestWriterMatchesReference(t *testing.T) {
	idp, cert := newTestIdP(t, writerNow)
	email := attributes.Released{NameID: "ada@example.com", NameIDFormat: attributes.NameIDFormatEmail,
		Attributes: []attributes.Attribute{{Name: "email", Values: []string{"ada@example.com"}}, {Name: "full_name", Values: []string{"Ada Lovelace"}},
			{Name: "roles", Values: []string{"agent", "supervisor", "admin"}}}}
	persistent := email
	persistent.NameID, persistent.NameIDFormat = "0b6d2c4e-3f0a-4d7e-9a51-6f1c2b3d4e5f", attributes.NameIDFormatPersistent
	unspecified := email
	unspecified.NameIDFormat = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	bare := attributes.Released{NameID: "ada@example.com", NameIDFormat: attributes.NameIDFormatEmail}
	// No CR here: the reference writes it raw, and XML parsers read it as
	// LF (see TestWriterKeepsCarriageReturns).
	nasty := attributes.Released{NameID: `a&b<c>"d'@example.com`, NameIDFormat: attributes.NameIDFormatEmail,
		Attributes: []attributes.Attribute{{Name: `x<&>"'` + "\t\n", Values: []string{"]]>", "", "a\nb\tc", "\u0085\u2028\u00e9\U0001F600\uFFFD", `<&>"'`}}}}
	long := attributes.Released{NameID: "ada@example.com", NameIDFormat: attributes.NameIDFormatEmail,
		Attributes: []attributes.Attribute{{Name: "notes", Values: []string{strings.Repeat("é<&", 64<<10/4)}}}}
	solicited := &saml.Request{ID: "id-0123456789abcdef", SP: "flex", ACSURL: testACS, RelayState: "relay", IssueInstant: writerNow}
	withClass := *solicited
	withClass.AuthnContextClassRef = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"
	wantsPersistent := *solicited
	wantsPersistent.NameIDFormat = attributes.NameIDFormatPersistent
	session := testSP
	session.SessionNotOnOrAfter = 9 * time.Hour
	g := saml.Grant{SessionIndex: "_0123456789abcdef", AuthnInstant: writerNow.Add(-90*time.Second + 987654321)}
	noIndex := saml.Grant{AuthnInstant: writerNow}

	cases := []struct {
		name string
		req  *saml.Request
		s    sp.ServiceProvider
		rel  attributes.Released
		g    saml.Grant
	}{
		{"persistent solicited", solicited, testSP, persistent, g},
		{"email unsolicited", nil, testSP, email, g},
		{"unspecified", solicited, testSP, unspecified, g},
		{"no attributes", solicited, testSP, bare, g},
		{"no session index", nil, testSP, email, noIndex},
		{"SessionNotOnOrAfter", solicited, session, email, g},
		{"requested AuthnContext", &withClass, testSP, email, g},
		{"nasty values", solicited, testSP, nasty, g},
		{"long value", nil, testSP, long, g},
		{"InvalidNameIDPolicy", &wantsPersistent, testSP, email, g},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, gerr := idp.Respond(c.req, c.s, c.rel, c.g)
			want, werr := saml.RespondReference(idp, c.req, c.s, c.rel, c.g)
			compare(t, idp, cert, c.req, got, gerr, want, werr)
		})
	}

	errs := []*saml.StatusError{
		saml.NoPassive(),
		{Status: crewjam.StatusRequester, Second: crewjam.StatusRequestDenied, Message: `refused: <&>"'` + "\n]]>"},
		{Status: crewjam.StatusRequester},
		{Status: crewjam.StatusResponder, Second: crewjam.StatusAuthnFailed},
		{Status: crewjam.StatusVersionMismatch, Message: "2.0 only"},
		{Status: "urn:oasis:names:tc:SAML:2.0:status:Success", Message: "not an error status"},
	}
	for _, se := range errs {
		for _, req := range []*saml.Request{solicited, nil} {
			t.Run(fmt.Sprintf("error %s %s solicited=%v", se.Status[strings.LastIndex(se.Status, ":")+1:], se.Second, req != nil), func(t *testing.T) {
				got, gerr := idp.RespondError(req, testSP, se)
				want, werr := saml.RespondErrorReference(idp, req, testSP, se)
				compare(t, idp, cert, req, got, gerr, want, werr)
			})
		}
	}
}

// compare checks that the writer's answer (got, gerr) is the reference's.
func compare(t *testing.T, idp *saml.IdP, cert *x509.Certificate, req *saml.Request, got *saml.Response, gerr error, want *saml.Response, werr error) {
	t.Helper()
	if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
		t.Fatalf("errors differ:\nwriter    %v\nreference %v", gerr, werr)
	}
	if (got == nil) != (want == nil) {
		t.Fatalf("writer Response %v, reference %v", got != nil, want != nil)
	}
	if got == nil {
		return
	}
	if got.ACSURL != want.ACSURL || got.RelayState != want.RelayState || (got.AssertionID == "") != (want.AssertionID == "") {
		t.Fatalf("envelope differs: writer %q %q %q, reference %q %q %q", got.ACSURL, got.RelayState, got.AssertionID,
			want.ACSURL, want.RelayState, want.AssertionID)
	}
	g, w := describe(t, got), describe(t, want)
	// The one intended difference (writer.go): each of the writer's
	// exc-c14n transforms names "xs" in an InclusiveNamespaces PrefixList,
	// which crewjam's signer does not write.
	var kept []string
	signatures := 0
	for _, line := range strings.SplitAfter(g, "\n") {
		if strings.TrimSpace(line) == `{http://www.w3.org/2001/10/xml-exc-c14n#}InclusiveNamespaces {}PrefixList="xs" text="" tail=""` {
			signatures++
			continue
		}
		kept = append(kept, line)
	}
	if want := 1 + min(1, len(got.AssertionID)); signatures != want {
		t.Fatalf("the writer's exc-c14n transforms name the prefix list \"xs\" %d times, want %d (one per signature):\n%s", signatures, want, g)
	}
	if g := strings.Join(kept, ""); g != w {
		t.Fatalf("the Responses differ:\nwriter:\n%s\nreference:\n%s", g, w)
	}
	checkCanonical(t, got.XML)
	reqID := ""
	if req != nil {
		reqID = req.ID
	}
	verifyBoth(t, idp, cert, got.XML, reqID)
}

// readResponse is what encoding/xml, a parser independent of etree and
// goxmldsig, reads back from a Response.
type readResponse struct {
	InResponseTo string `xml:"InResponseTo,attr"`
	Status       struct {
		Message string `xml:"StatusMessage"`
	} `xml:"Status"`
	Assertion *struct {
		NameID       string `xml:"Subject>NameID"`
		Confirmation struct {
			InResponseTo string `xml:"InResponseTo,attr"`
		} `xml:"Subject>SubjectConfirmation>SubjectConfirmationData"`
		Attributes []struct {
			Name   string   `xml:"Name,attr"`
			Values []string `xml:"AttributeValue"`
		} `xml:"AttributeStatement>Attribute"`
	} `xml:"Assertion"`
}

func readBack(t testing.TB, doc []byte) readResponse {
	t.Helper()
	var r readResponse
	if err := xml.Unmarshal(doc, &r); err != nil {
		t.Fatalf("encoding/xml cannot read the Response: %v", err)
	}
	return r
}

// TestWriterKeepsCarriageReturns: a CR in a value reaches the SP as a CR.
// crewjam's serialiser (the reference) writes it raw, and every XML parser
// reads a raw CR as LF (XML 1.0 §2.11), so the SP read another value than
// the one signed off; the writer escapes it (&#xD;) as c14n does.
func TestWriterKeepsCarriageReturns(t *testing.T) {
	idp, cert := newTestIdP(t, writerNow)
	values := []string{"line 1\r\nline 2", "a\rb", "\r"}
	rel := attributes.Released{NameID: "ada@example.com", NameIDFormat: attributes.NameIDFormatEmail,
		Attributes: []attributes.Attribute{{Name: "notes", Values: values}}}
	resp, err := idp.Respond(nil, testSP, rel, saml.Grant{SessionIndex: "_1", AuthnInstant: writerNow})
	if err != nil {
		t.Fatal(err)
	}
	verifyBoth(t, idp, cert, resp.XML, "")
	checkCanonical(t, resp.XML)
	if got := readBack(t, resp.XML).Assertion.Attributes[0].Values; !slices.Equal(got, values) {
		t.Fatalf("the values read back as %q, want %q", got, values)
	}
}

// TestWriterRefusesWhatXMLCannotCarry: invalid UTF-8 and characters
// outside XML's Char production are refused with an error a person can
// act on (an *attributes.Error, shown as a 422, or a *RequestError),
// never replaced (crewjam's serialiser writes U+FFFD for them, so the SP
// would read a value nobody released) and never a 500.
func TestWriterRefusesWhatXMLCannotCarry(t *testing.T) {
	idp, _ := newTestIdP(t, writerNow)
	bad := map[string]string{"invalid UTF-8": "a\xffb", "encoded surrogate": "a\xed\xa0\x80b", "NUL": "a\x00b",
		"control": "a\x01b", "U+FFFE": "a\uFFFEb", "U+FFFF": "a\uFFFFb", "ESC": "\x1b"}
	ok := attributes.Released{NameID: "ada@example.com", NameIDFormat: attributes.NameIDFormatEmail,
		Attributes: []attributes.Attribute{{Name: "email", Values: []string{"ada@example.com"}}}}
	for name, v := range bad {
		nameID, attrName, value, reqID := ok, ok, ok, ok
		nameID.NameID = v
		attrName.Attributes = []attributes.Attribute{{Name: "e" + v, Values: []string{"x"}}}
		value.Attributes = []attributes.Attribute{{Name: "email", Values: []string{"ok", v}}}
		cases := []struct {
			where string
			req   *saml.Request
			rel   attributes.Released
		}{
			{"NameID", nil, nameID}, {"attribute name", nil, attrName}, {"attribute value", nil, value},
			{"request ID", &saml.Request{ID: "id-" + v, SP: "flex", ACSURL: testACS}, reqID},
		}
		for _, c := range cases {
			t.Run(name+" in "+c.where, func(t *testing.T) {
				resp, err := idp.Respond(c.req, testSP, c.rel, saml.Grant{SessionIndex: "_1", AuthnInstant: writerNow})
				var ae *attributes.Error
				var re *saml.RequestError
				if resp != nil || !(errors.As(err, &ae) || errors.As(err, &re)) {
					t.Fatalf("Respond = %v, %v; want no Response and an *attributes.Error or *saml.RequestError", resp != nil, err)
				}
				if msg := err.Error(); !strings.Contains(msg, "UTF-8") && !strings.Contains(msg, "XML cannot carry") {
					t.Fatalf("the error does not say what is wrong: %q", msg)
				}
			})
		}
	}
	t.Run("empty attribute name", func(t *testing.T) {
		rel := ok
		rel.Attributes = []attributes.Attribute{{Name: "", Values: []string{"x"}}}
		var ae *attributes.Error
		if _, err := idp.Respond(nil, testSP, rel, saml.Grant{AuthnInstant: writerNow}); !errors.As(err, &ae) || !strings.Contains(err.Error(), "empty name") {
			t.Fatalf("err = %v, want an *attributes.Error about the empty name", err)
		}
	})
}

// nastySeeds are the values FuzzCanonicalWriter starts from: markup
// characters, whitespace XML normalises, CDATA's end, every Unicode class
// (C1 NEL, line and paragraph separators, BOM, private use, non-BMP,
// combining marks, right-to-left), U+FFFD, and what XML cannot carry:
// C0 controls, invalid UTF-8, encoded surrogates, U+FFFE.
var nastySeeds = []string{
	"", "ada@example.com", `<&>"'`, "\r", "\r\n", "\n", "\t", " \t\r\n ", "]]>", "<![CDATA[x]]>", "&amp;", "&#xD;",
	"<!-- c -->", "<?pi x?>", "\u0085", "\u2028\u2029", "\uFEFF", "\u00a0", "\ue000", "\U0001F600", "e\u0301", "\u202eevil",
	"\uFFFD", "\x7f", "\x00", "\x01", "\x1b", "\xff", "\xed\xa0\x80", "\uFFFE", "\uFFFF", "a\xc3", `xmlns:saml="x"`,
	`" ID="evil`, "</saml:AttributeValue><saml:AttributeValue>", strings.Repeat("a<&>\r", 64<<10/5),
}

// xmlCarriable is XML 1.0's Char production over valid UTF-8, written
// independently of the writer's check.
func xmlCarriable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == 0x9 || r == 0xA || r == 0xD, r >= 0x20 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return true
}

// FuzzCanonicalWriter: for arbitrary attribute names and values, NameIDs,
// request IDs, RelayStates and status messages, the Response the writer
// emits is what goxmldsig's exclusive canonicaliser makes of it (the
// Response, and the Assertion on its own), parses back with encoding/xml
// to exactly the input values, and both signatures verify with goxmldsig
// and crewjam's SP; values XML cannot carry are refused with an error a
// person can act on. Its seeds run in the normal suite; run it with
// go test -fuzz=FuzzCanonicalWriter ./internal/saml.
func FuzzCanonicalWriter(f *testing.F) {
	for i, s := range nastySeeds {
		next := nastySeeds[(i+1)%len(nastySeeds)]
		f.Add(s, next, "ada@example.com", "id-"+s, s, true)
		f.Add("x", s, s, "id-0123", "relay", i%2 == 0)
	}
	idp, cert := newTestIdP(f, writerNow)
	f.Fuzz(func(t *testing.T, name, value, nameID, reqID, relay string, solicited bool) {
		rel := attributes.Released{NameID: nameID, NameIDFormat: attributes.NameIDFormatEmail,
			Attributes: []attributes.Attribute{{Name: name, Values: []string{value, name}}, {Name: "email", Values: []string{nameID}}}}
		var req *saml.Request
		carriable := xmlCarriable(name) && name != "" && xmlCarriable(value) && xmlCarriable(nameID)
		if solicited {
			req = &saml.Request{ID: reqID, SP: "flex", ACSURL: testACS, RelayState: relay}
			carriable = carriable && xmlCarriable(reqID)
		}
		resp, err := idp.Respond(req, testSP, rel, saml.Grant{SessionIndex: "_s", AuthnInstant: writerNow})
		if !carriable {
			var ae *attributes.Error
			var re *saml.RequestError
			if resp != nil || !(errors.As(err, &ae) || errors.As(err, &re)) {
				t.Fatalf("Respond = %v, %v; want a refusal", resp != nil, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Respond refused carriable values: %v", err)
		}
		if resp.RelayState != relayFor(req) {
			t.Fatalf("RelayState %q, want %q", resp.RelayState, relayFor(req))
		}
		checkCanonical(t, resp.XML)
		got := readBack(t, resp.XML)
		if a := got.Assertion; a == nil || a.NameID != nameID || len(a.Attributes) != 2 || a.Attributes[0].Name != name ||
			!slices.Equal(a.Attributes[0].Values, []string{value, name}) || !slices.Equal(a.Attributes[1].Values, []string{nameID}) ||
			got.InResponseTo != a.Confirmation.InResponseTo || (req != nil && got.InResponseTo != reqID) {
			t.Fatalf("read back %+v, want NameID %q, %q = [%q %q], InResponseTo %q", got.Assertion, nameID, name, value, name, reqID)
		}
		id := ""
		if req != nil {
			id = req.ID
		}
		verifyBoth(t, idp, cert, resp.XML, id)

		se := &saml.StatusError{Status: crewjam.StatusResponder, Second: crewjam.StatusAuthnFailed, Message: value}
		eresp, err := idp.RespondError(req, testSP, se)
		if err != nil {
			t.Fatal(err)
		}
		checkCanonical(t, eresp.XML)
		if got := readBack(t, eresp.XML); got.Status.Message != value || got.Assertion != nil {
			t.Fatalf("error Response reads back %q, want %q", got.Status.Message, value)
		}
		verifyBoth(t, idp, cert, eresp.XML, id)
	})
}

// relayFor is the RelayState a Response to req carries.
func relayFor(req *saml.Request) string {
	if req == nil {
		return testSP.DefaultRedirectURL
	}
	return req.RelayState
}

// TestWriterVerifiedByXmlsecAndOneLogin feeds the nastiest seeds through
// the two independent stacks of the end-to-end tests: xmlsec1 verifies
// both signatures (and refuses a tampered Audience), python3-saml in
// strict mode (schema, signatures, times, InResponseTo) accepts the
// Response and reads exactly the released values; an error Response
// verifies with both and reads back its status and message.
func TestWriterVerifiedByXmlsecAndOneLogin(t *testing.T) {
	now := time.Now() // python3-saml checks the times against its clock
	idp, cert := newTestIdP(t, now)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	values := []string{`<&>"'`, "a\r\nb\rc\nd\te", "]]>", "\u0085\u2028\u2029\uFEFF", "e\u0301\U0001F600\u202e", "\uFFFD", "",
		strings.Repeat("x<&>\r", 64<<10/5)}
	rel := attributes.Released{NameID: "ada+<&>@example.com", NameIDFormat: attributes.NameIDFormatEmail,
		Attributes: []attributes.Attribute{{Name: "email", Values: []string{"ada@example.com"}}, {Name: `nasty <&>"'` + "\t\u2028", Values: values}}}
	req := &saml.Request{ID: "id-0123456789abcdef", SP: "flex", ACSURL: testACS, RelayState: "relay"}
	for _, r := range []*saml.Request{req, nil} {
		t.Run(fmt.Sprintf("solicited=%v", r != nil), func(t *testing.T) {
			resp, err := idp.Respond(r, testSP, rel, saml.Grant{SessionIndex: "_s1", AuthnInstant: now})
			if err != nil {
				t.Fatal(err)
			}
			samltest.VerifyWithXmlsec(t, resp.XML, certPEM)
			reqID := ""
			if r != nil {
				reqID = r.ID
			}
			got := samltest.VerifyWithOneLogin(t, resp.XML, certPEM, testEntity, testACS, reqID)
			// python3-saml strips each value (str.strip) and drops the
			// empty ones; exactly that must be the difference.
			var want []string
			for _, v := range values {
				if v = strings.TrimFunc(v, unicode.IsSpace); v != "" {
					want = append(want, v)
				}
			}
			if got.NameID != rel.NameID || !slices.Equal(got.Attributes[rel.Attributes[1].Name], want) {
				t.Fatalf("python3-saml reads NameID %q and %q", got.NameID, got.Attributes[rel.Attributes[1].Name])
			}
		})
	}
	for _, se := range []*saml.StatusError{saml.NoPassive(),
		{Status: crewjam.StatusRequester, Second: crewjam.StatusRequestDenied, Message: "refused: <&>\"'\r\n]]>\u2028"}} {
		t.Run("error "+se.Second, func(t *testing.T) {
			resp, err := idp.RespondError(req, testSP, se)
			if err != nil {
				t.Fatal(err)
			}
			got := samltest.VerifyErrorResponse(t, resp.XML, certPEM)
			if got != (samltest.ErrorStatus{Code: se.Status, Second: se.Second, Message: se.Message}) {
				t.Fatalf("python3-saml reads %+v, want %+v", got, se)
			}
		})
	}
}

// TestWriterRefusesUnusableKeys: a key set the writer cannot sign with is
// an error, never a panic nor an unsigned Response, on both paths.
func TestWriterRefusesUnusableKeys(t *testing.T) {
	idp, cert := newTestIdP(t, writerNow)
	good := idp.Keys()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var typedNil *rsa.PrivateKey
	rel := attributes.Released{NameID: "ada@example.com", NameIDFormat: attributes.NameIDFormatEmail}
	for name, ks := range map[string]*saml.KeySet{
		"none":           nil,
		"no signer":      {ID: "k", Certificate: cert},
		"typed nil":      {ID: "k", Signer: typedNil, Certificate: cert},
		"no certificate": {ID: "k", Signer: good.Signer},
		"ECDSA":          {ID: "k", Signer: ec, Certificate: cert},
	} {
		t.Run(name, func(t *testing.T) {
			idp.SetKeys(ks)
			if resp, err := idp.Respond(nil, testSP, rel, saml.Grant{AuthnInstant: writerNow}); resp != nil || err == nil {
				t.Fatalf("Respond = %v, %v; want an error", resp != nil, err)
			}
			if resp, err := idp.RespondError(nil, testSP, saml.NoPassive()); resp != nil || err == nil {
				t.Fatalf("RespondError = %v, %v; want an error", resp != nil, err)
			}
		})
	}
}

// TestXSPrefixSigned: the xsi:type values ("xs:string") depend on the
// binding of the prefix xs, which no element or attribute name uses, so
// plain exc-c14n leaves its declaration outside the digests. Both
// signatures must cover it: rebinding xs to another namespace breaks the
// Response's and the Assertion's signature for goxmldsig and for xmlsec1.
func TestXSPrefixSigned(t *testing.T) {
	idp, cert := newTestIdP(t, writerNow)
	rel := attributes.Released{NameID: "ada@example.com", NameIDFormat: attributes.NameIDFormatEmail,
		Attributes: []attributes.Attribute{{Name: "email", Values: []string{"ada@example.com"}}}}
	resp, err := idp.Respond(nil, testSP, rel, saml.Grant{SessionIndex: "_s1", AuthnInstant: writerNow})
	if err != nil {
		t.Fatal(err)
	}
	xs := []byte(`xmlns:xs="http://www.w3.org/2001/XMLSchema"`)
	if !bytes.Contains(resp.XML, []byte(`xsi:type="xs:string"`)) || !bytes.Contains(resp.XML, xs) {
		t.Fatalf("the Response has no xs:string value or no xs declaration:\n%s", resp.XML)
	}
	verifyBoth(t, idp, cert, resp.XML, "")
	rebound := bytes.ReplaceAll(resp.XML, xs, []byte(`xmlns:xs="urn:example:not-xml-schema"`))
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
	vc.Clock = dsig.NewFakeClockAt(cert.NotBefore.Add(time.Minute))
	root := parse(t, rebound).Root()
	if _, err := vc.Validate(root.Copy()); err == nil {
		t.Error("goxmldsig verifies the Response with the xs prefix rebound")
	}
	if _, err := vc.Validate(root.SelectElement("Assertion").Copy()); err == nil {
		t.Error("goxmldsig verifies the Assertion with the xs prefix rebound")
	}
	samltest.VerifyWithXmlsec(t, resp.XML, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
}
