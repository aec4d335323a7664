package saml_test

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"

	"github.com/flexidp/flexidp/internal/saml"
	"github.com/flexidp/flexidp/internal/sp"
)

const (
	hostileBase = "https://idp.example.com"
	hostileACS  = "https://sp.example.com/acs"
	hostileSLO  = "https://sp.example.com/slo"
	hostileSPID = "https://sp.example.com/metadata"
)

var (
	keyOnce sync.Once
	keySet  *saml.KeySet
)

// testKeys returns one RSA-2048 key set for every test of the file.
func testKeys(tb testing.TB) *saml.KeySet {
	tb.Helper()
	keyOnce.Do(func() {
		key, cert := selfSigned(tb, "idp.example.com", time.Now())
		keySet = &saml.KeySet{ID: "k1", Signer: key, Certificate: cert}
	})
	return keySet
}

// hostileIdP is an IdP at hostileBase that knows one SP (with single logout);
// lookups counts the SP lookups, which hostile input must never reach.
type hostileIdP struct {
	*saml.IdP
	sp      sp.ServiceProvider
	mu      sync.Mutex
	lookups int
}

func newHostileIdP(tb testing.TB) *hostileIdP {
	tb.Helper()
	idp, err := saml.New(saml.Config{EntityID: hostileBase + "/saml/metadata", SSOURL: hostileBase + "/saml/sso",
		SLOURL: hostileBase + "/saml/slo", SecureTransport: true})
	if err != nil {
		tb.Fatal(err)
	}
	idp.SetKeys(testKeys(tb))
	return &hostileIdP{IdP: idp, sp: sp.ServiceProvider{Name: "app", EntityID: hostileSPID, ACSURLs: []string{hostileACS}, SLOURL: hostileSLO}}
}

func (t *hostileIdP) lookup(_ context.Context, entityID string) (sp.ServiceProvider, bool, error) {
	t.mu.Lock()
	t.lookups++
	t.mu.Unlock()
	return t.sp, entityID == t.sp.EntityID, nil
}

// crewjamSP is crewjam's service provider playing the SP, with our metadata.
func (t *hostileIdP) crewjamSP(tb testing.TB) *crewjam.ServiceProvider {
	tb.Helper()
	acs, _ := url.Parse(hostileACS)
	slo, _ := url.Parse(hostileSLO)
	return &crewjam.ServiceProvider{EntityID: hostileSPID, AcsURL: *acs, SloURL: *slo, IDPMetadata: metadataOf(tb, t.IdP)}
}

func deflate(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

// request builds the HTTP request carrying doc as SAMLRequest with the
// HTTP-Redirect (GET) or HTTP-POST binding.
func request(path string, redirect bool, doc []byte, relay string) *http.Request {
	if redirect {
		q := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(deflate(doc))}}
		if relay != "" {
			q.Set("RelayState", relay)
		}
		return httptest.NewRequest(http.MethodGet, hostileBase+path+"?"+q.Encode(), nil)
	}
	form := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(doc)}}
	if relay != "" {
		form.Set("RelayState", relay)
	}
	r := httptest.NewRequest(http.MethodPost, hostileBase+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

const nowPlaceholder = "2006-01-02T15:04:05Z"

func authnXML(id string) string {
	return `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="` + id +
		`" Version="2.0" IssueInstant="` + nowPlaceholder + `" Destination="` + hostileBase + `/saml/sso" AssertionConsumerServiceURL="` + hostileACS +
		`" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"><saml:Issuer>` + hostileSPID + `</saml:Issuer></samlp:AuthnRequest>`
}

func logoutXML(id, nameID, sessionIndex string) string {
	return `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="` + id +
		`" Version="2.0" IssueInstant="` + nowPlaceholder + `" Destination="` + hostileBase + `/saml/slo"><saml:Issuer>` + hostileSPID +
		`</saml:Issuer><saml:NameID>` + nameID + `</saml:NameID><samlp:SessionIndex>` + sessionIndex + `</samlp:SessionIndex></samlp:LogoutRequest>`
}

// current puts the current time where a document has the placeholder, so
// that seeds stay valid whenever the test runs.
func current(doc []byte) []byte {
	return bytes.ReplaceAll(doc, []byte(nowPlaceholder), []byte(time.Now().UTC().Format(time.RFC3339)))
}

// hostileDocs are documents no SAML message may be, each with what the
// refusal says.
func hostileDocs() []struct{ name, doc, says string } {
	nested := func(n int) string { return strings.Repeat("<a>", n) + strings.Repeat("</a>", n) }
	wide := "<r>" + strings.Repeat("<a/>", 5000) + "</r>"
	laughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
		`<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&lol3;</samlp:AuthnRequest>`
	xxe := `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` +
		strings.Replace(authnXML("_xxe"), "</saml:Issuer>", "&xxe;</saml:Issuer>", 1)
	return []struct{ name, doc, says string }{
		{"XXE", xxe, "DTD"},
		{"billion laughs", laughs, "DTD"},
		{"lower-case doctype", `<!doctype r><r/>`, "DTD"},
		{"4k nested elements", nested(4000), "deeper"},
		{"10k nested elements", nested(10000), "KiB"}, // refused by size before depth
		{"5k elements", wide, "more than"},
		{"processing instruction", `<?evil x?>` + authnXML("_pi"), "processing instruction"},
		{"two roots", authnXML("_a") + authnXML("_b"), "root"},
		{"text after the root", authnXML("_c") + "junk", "XML"},
		{"unclosed", `<samlp:AuthnRequest xmlns:samlp="x"><a>`, "XML"},
		{"undefined entity", `<r>&nope;</r>`, "XML"},
		{"huge", "<r>" + strings.Repeat("x", saml.MaxMessageBytes) + "</r>", "KiB"},
	}
}

// TestHostileMessagesRefusedEarly sends each hostile document with both
// bindings to both parsers: each is a *RequestError, refused before any SP
// is looked up, and quickly.
func TestHostileMessagesRefusedEarly(t *testing.T) {
	idp := newHostileIdP(t)
	parsers := map[string]func(*http.Request) error{
		"AuthnRequest": func(r *http.Request) error { _, _, err := idp.ParseRequest(r, idp.lookup); return err },
		"LogoutRequest": func(r *http.Request) error {
			_, _, err := idp.ParseLogoutRequest(r, idp.lookup)
			return err
		},
	}
	for _, c := range hostileDocs() {
		for _, redirect := range []bool{true, false} {
			for name, parse := range parsers {
				start := time.Now()
				err := parse(request("/saml/sso", redirect, []byte(c.doc), ""))
				var re *saml.RequestError
				if !errors.As(err, &re) || !strings.Contains(re.Reason, c.says) {
					t.Errorf("%s, %s, redirect=%v: got %v, want a RequestError saying %q", c.name, name, redirect, err, c.says)
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("%s took %s to refuse", c.name, d)
				}
			}
		}
	}
	if idp.lookups != 0 {
		t.Fatalf("hostile input reached the SP lookup %d times", idp.lookups)
	}
}

func TestHostileParametersRefused(t *testing.T) {
	idp := newHostileIdP(t)
	enc := base64.StdEncoding.EncodeToString(deflate(current([]byte(authnXML("_p")))))
	bomb := base64.StdEncoding.EncodeToString(deflate(bytes.Repeat([]byte("<"), 10<<20)))
	cases := []struct {
		name string
		req  *http.Request
		says string
	}{
		{"duplicate SAMLRequest", httptest.NewRequest(http.MethodGet, "/saml/sso?SAMLRequest="+url.QueryEscape(enc)+"&SAMLRequest="+url.QueryEscape(enc), nil), "more than once"},
		{"duplicate RelayState", httptest.NewRequest(http.MethodGet, "/saml/sso?SAMLRequest="+url.QueryEscape(enc)+"&RelayState=a&RelayState=b", nil), "more than once"},
		{"oversized RelayState", request("/saml/sso", true, current([]byte(authnXML("_r"))), strings.Repeat("r", saml.MaxEchoedRelayState+1)), "RelayState"},
		{"deflate bomb", httptest.NewRequest(http.MethodGet, "/saml/sso?SAMLRequest="+url.QueryEscape(bomb), nil), "DEFLATE"},
		{"not base64", httptest.NewRequest(http.MethodGet, "/saml/sso?SAMLRequest=%%%", nil), "malformed"},
		{"PUT", httptest.NewRequest(http.MethodPut, "/saml/sso", nil), "PUT"},
		{"no message", httptest.NewRequest(http.MethodGet, "/saml/sso?RelayState=x", nil), "no SAMLRequest"},
	}
	for _, c := range cases {
		_, _, err := idp.ParseRequest(c.req, idp.lookup)
		var re *saml.RequestError
		if !errors.As(err, &re) || !strings.Contains(re.Error(), c.says) {
			t.Errorf("%s: got %v, want a RequestError saying %q", c.name, err, c.says)
		}
	}
	if idp.lookups != 0 {
		t.Fatalf("hostile input reached the SP lookup %d times", idp.lookups)
	}
	// The honest request still passes, with both bindings, RelayState echoed.
	for _, redirect := range []bool{true, false} {
		req, _, err := idp.ParseRequest(request("/saml/sso", redirect, current([]byte(authnXML("_ok"))), "<relay&'\">"), idp.lookup)
		if err != nil || req.ACSURL != hostileACS || req.RelayState != "<relay&'\">" {
			t.Fatalf("honest request (redirect=%v): %+v, %v", redirect, req, err)
		}
	}
}

// TestLogoutRoundTrip: crewjam's SP sends a LogoutRequest with each
// binding, and accepts our signed LogoutResponse, posted or redirected,
// only at its registered SLO URL.
func TestLogoutRoundTrip(t *testing.T) {
	idp := newHostileIdP(t)
	spc := idp.crewjamSP(t)
	for _, redirect := range []bool{true, false} {
		lr, err := spc.MakeLogoutRequest(idp.SLOURL(), "ada@example.com", crewjam.WithSessionIndex("_sess1"))
		if err != nil {
			t.Fatal(err)
		}
		doc := etree.NewDocument()
		doc.SetRoot(lr.Element())
		raw, _ := doc.WriteToBytes()
		req, provider, err := idp.ParseLogoutRequest(request("/saml/slo", redirect, raw, "relay-1"), idp.lookup)
		if err != nil {
			t.Fatalf("redirect=%v: %v", redirect, err)
		}
		if provider.Name != "app" || req.NameID != "ada@example.com" || len(req.SessionIndexes) != 1 || req.SessionIndexes[0] != "_sess1" ||
			req.RelayState != "relay-1" || req.Redirect != redirect || req.SLOURL != hostileSLO || req.ReplayKey() != "logout:app:"+lr.ID {
			t.Fatalf("parsed %+v", req)
		}
		resp, err := idp.RespondLogout(req, saml.StatusSuccess)
		if err != nil {
			t.Fatal(err)
		}
		var back *http.Request
		if redirect {
			if !strings.HasPrefix(resp.RedirectURL, hostileSLO+"?SAMLResponse=") {
				t.Fatalf("redirect to %q, want the registered SLO URL", resp.RedirectURL)
			}
			back = httptest.NewRequest(http.MethodGet, resp.RedirectURL, nil)
		} else {
			if resp.URL != hostileSLO || resp.RelayState != "relay-1" {
				t.Fatalf("post to %q relay %q", resp.URL, resp.RelayState)
			}
			form := url.Values{"SAMLResponse": {resp.SAMLResponse}, "RelayState": {resp.RelayState}}
			back = httptest.NewRequest(http.MethodPost, hostileSLO, strings.NewReader(form.Encode()))
			back.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		got, err := spc.ParseLogoutResponse(back, []string{lr.ID})
		if err != nil {
			t.Fatalf("crewjam SP refuses our LogoutResponse (redirect=%v): %v", redirect, err)
		}
		if got.Status.StatusCode.Value != saml.StatusSuccess {
			t.Fatalf("status %q", got.Status.StatusCode.Value)
		}
	}

	// Metadata publishes the SLO endpoint for both bindings.
	md, _ := idp.Metadata()
	for _, b := range []string{crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding} {
		if !bytes.Contains(md, []byte(`<SingleLogoutService Binding="`+b+`" Location="`+hostileBase+`/saml/slo"`)) {
			t.Errorf("metadata lacks the %s SingleLogoutService:\n%s", b, md)
		}
	}
}

func TestLogoutRequestRefused(t *testing.T) {
	idp := newHostileIdP(t)
	ok := logoutXML("_l1", "ada@example.com", "_s1")
	cases := []struct{ name, doc, says string }{
		{"unknown SP", strings.Replace(ok, hostileSPID, "https://evil.example.com", 1), "does not know"},
		{"other destination", strings.Replace(ok, hostileBase+"/saml/slo", "https://other.example.com/slo", 1), "Destination"},
		{"expired", strings.Replace(ok, nowPlaceholder, "2001-01-01T00:00:00Z", 1), "expired"},
		{"no NameID", strings.Replace(ok, "<saml:NameID>ada@example.com</saml:NameID>", "", 1), "NameID"},
		{"no ID", strings.Replace(ok, `ID="_l1"`, "", 1), "ID"},
		{"an AuthnRequest", authnXML("_a"), "LogoutRequest"},
	}
	for _, c := range cases {
		_, _, err := idp.ParseLogoutRequest(request("/saml/slo", true, current([]byte(c.doc)), ""), idp.lookup)
		var re *saml.RequestError
		if !errors.As(err, &re) || !strings.Contains(re.Reason, c.says) {
			t.Errorf("%s: got %v, want a RequestError saying %q", c.name, err, c.says)
		}
	}
	// An SP without a registered SLO URL gets no LogoutResponse anywhere.
	idp.sp.SLOURL = ""
	_, _, err := idp.ParseLogoutRequest(request("/saml/slo", true, current([]byte(ok)), ""), idp.lookup)
	if err == nil || !strings.Contains(err.Error(), "--slo-url") {
		t.Fatalf("SP without SLO URL: %v", err)
	}
}
