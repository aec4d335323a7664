package saml

import (
	"net/url"
	"strings"
	"testing"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
)

// crewjamAuthnRequest is an AuthnRequest as crewjam's SP (playing Flex)
// writes it.
func crewjamAuthnRequest(t testing.TB) string {
	t.Helper()
	acs, _ := url.Parse("https://sp.example.com/acs?connection=a&b=c")
	md := &crewjam.EntityDescriptor{EntityID: "https://idp.example.com/saml/metadata", IDPSSODescriptors: []crewjam.IDPSSODescriptor{{
		SingleSignOnServices: []crewjam.Endpoint{{Binding: crewjam.HTTPRedirectBinding, Location: "https://idp.example.com/saml/sso"}},
	}}}
	csp := &crewjam.ServiceProvider{EntityID: "https://sp.example.com/metadata", AcsURL: *acs, IDPMetadata: md,
		AuthnNameIDFormat: crewjam.EmailAddressNameIDFormat}
	req, err := csp.MakeAuthenticationRequest(csp.GetSSOBindingLocation(crewjam.HTTPRedirectBinding), crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(req.Element())
	s, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// plainDocs are honest messages in the forms SPs write them: plainSAML
// must vouch for each, so that none is tokenized.
func plainDocs(t testing.TB) map[string]string {
	const head = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_1" Version="2.0" IssueInstant="2026-11-30T12:00:00Z"`
	return map[string]string{
		"crewjam's SP": crewjamAuthnRequest(t),
		"XML declaration, comment, entities, white space": "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone='no'?>\r\n<!-- from the SP -->\n" +
			head + "\n\tAssertionConsumerServiceURL='https://sp.example.com/acs?a=1&amp;b=&quot;2&quot;'>" +
			`<saml:Issuer>https://sp.example.com/metadata</saml:Issuer><!-- x - y --><samlp:NameIDPolicy AllowCreate="true"/>` +
			"<saml:Subject><saml:NameID>zoë&lt;&gt;&apos;@example.com 𝄞</saml:NameID></saml:Subject></samlp:AuthnRequest>\n",
		"signed, no space between attributes": head + `Destination="https://idp.example.com/saml/sso"><saml:Issuer>https://sp.example.com/metadata</saml:Issuer>` +
			`<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>` +
			`<ds:Reference URI="#_1"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></ds:Transforms>` +
			`<ds:DigestValue>q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJ+/0=</ds:DigestValue></ds:Reference></ds:SignedInfo>` +
			`<ds:SignatureValue>` + strings.Repeat("AbCd+/09", 40) + `</ds:SignatureValue></ds:Signature></samlp:AuthnRequest>`,
		"logout request": `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_l" Version="2.0" IssueInstant="2026-11-30T12:00:00Z">` +
			`<saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">x</saml:Issuer><saml:NameID xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">a@example.com</saml:NameID>` +
			`<samlp:SessionIndex>_s</samlp:SessionIndex></samlp:LogoutRequest>`,
		"at the limits": strings.Repeat("<a>", MaxDepth) + strings.Repeat("</a>", MaxDepth),
	}
}

// notPlainDocs are documents plainSAML leaves to checkTokens: the hostile
// ones, which must still get their sentence, and honest but unusual ones,
// which must still pass.
var notPlainDocs = []struct{ name, doc, says string }{
	{"DTD", `<!DOCTYPE r><r/>`, "DTD"},
	{"lower-case doctype", `<!doctype r><r/>`, "DTD"},
	{"processing instruction", `<?evil x?><r/>`, "processing instruction"},
	{"too deep", strings.Repeat("<a>", MaxDepth+1) + strings.Repeat("</a>", MaxDepth+1), "deeper"},
	{"too wide", "<r>" + strings.Repeat("<a/>", MaxElements) + "</r>", "more than"},
	{"two roots", `<a/><b/>`, "root"},
	{"no root", ` `, "root"},
	{"text outside the root", `<a/>x`, "outside"},
	{"unclosed", `<a><b>`, "well-formed"},
	{"mismatched end tag", `<a></b>`, "well-formed"},
	{"other prefix", `<p:a></q:a>`, "well-formed"},
	{"undefined entity", `<a>&nope;</a>`, "well-formed"},
	{"NUL", "<a>\x00</a>", "well-formed"},
	{"invalid UTF-8", "<a b='\xff'/>", "well-formed"},
	{"< in a value", `<a b="<"/>`, "well-formed"},
	{"]]> in text", `<a>]]></a>`, "well-formed"},
	{"unquoted value", `<a b=c/>`, "well-formed"},
	{"-- in a comment", `<a><!-- a -- b --></a>`, "well-formed"},
	{"Latin-1 declared", `<?xml version="1.0" encoding="ISO-8859-1"?><a/>`, "well-formed"},
	{"character reference", `<a>&#65;&#x42;</a>`, ""},
	{"CDATA", `<a><![CDATA[<x>]]></a>`, ""},
	{"non-ASCII name", `<zoë/>`, ""},
	{"no-break space outside the root", "<a/>\u00a0", ""},
	{"declaration without a space", `<?xml version="1.0"encoding="utf-8"?><a/>`, ""},
}

// TestPlainSAML: plainSAML vouches for the honest messages (which then
// cost no tokenizing) and leaves every other document to checkTokens, so
// that checkXML answers each as it did when it tokenized them all.
func TestPlainSAML(t *testing.T) {
	for name, doc := range plainDocs(t) {
		t.Run(name, func(t *testing.T) {
			if !plainSAML([]byte(doc)) {
				t.Errorf("plainSAML does not vouch for\n%s", doc)
			}
			if err := checkTokens([]byte(doc)); err != nil {
				t.Errorf("checkTokens refuses it: %v", err)
			}
		})
	}
	for _, c := range notPlainDocs {
		t.Run(c.name, func(t *testing.T) {
			if plainSAML([]byte(c.doc)) {
				t.Errorf("plainSAML vouches for %q", c.doc)
			}
			err := checkXML([]byte(c.doc))
			re, _ := err.(*RequestError)
			switch {
			case c.says == "" && err != nil:
				t.Errorf("checkXML refuses %q: %v", c.doc, err)
			case c.says != "" && (re == nil || !strings.Contains(re.Reason, c.says)):
				t.Errorf("checkXML(%q) = %v, want a RequestError saying %q", c.doc, err, c.says)
			}
		})
	}
}

// TestCheckXMLAllocatesNothing: checking an honest message tokenizes
// nothing (encoding/xml made some 55 allocations per AuthnRequest).
func TestCheckXMLAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are counted without the race detector")
	}
	for name, doc := range plainDocs(t) {
		b := []byte(doc)
		allocs := testing.AllocsPerRun(20, func() {
			if err := checkXML(b); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: checkXML made %.0f allocations, want none", name, allocs)
		}
	}
}

// FuzzPlainSAML: plainSAML never vouches for a document checkTokens
// refuses (so checkXML refuses all it refused), and never panics.
func FuzzPlainSAML(f *testing.F) {
	for _, doc := range plainDocs(f) {
		f.Add([]byte(doc))
	}
	for _, c := range notPlainDocs {
		f.Add([]byte(c.doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if plainSAML(doc) {
			if err := checkTokens(doc); err != nil {
				t.Fatalf("plainSAML vouches for %q, which checkTokens refuses: %v", doc, err)
			}
		}
	})
}

// TestPlainSAMLMutations: every document one byte away from an honest
// message (each byte deleted, or replaced by or preceded with a byte that
// matters to XML) that plainSAML vouches for, checkTokens accepts.
func TestPlainSAMLMutations(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("tens of thousands of documents")
	}
	const marks = "<>/!?-&;=\"' \t\r:]x#\x00\x7f\xc3\xa9\xff"
	vouched := 0
	check := func(doc []byte) {
		if !plainSAML(doc) {
			return
		}
		vouched++
		if err := checkTokens(doc); err != nil {
			t.Fatalf("plainSAML vouches for %q, which checkTokens refuses: %v", doc, err)
		}
	}
	for _, honest := range plainDocs(t) {
		d := []byte(honest)
		for i := range d {
			check(append(d[:i:i], d[i+1:]...))
			for _, c := range []byte(marks) {
				check(append(append(d[:i:i], c), d[i+1:]...))
				check(append(append(d[:i:i], c), d[i:]...))
			}
		}
	}
	t.Logf("%d mutants vouched for", vouched)
}
