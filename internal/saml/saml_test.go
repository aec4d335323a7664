package saml_test

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/saml"
	"github.com/flexidp/flexidp/internal/sp"
)

const (
	testEntity = "https://idp.example.com/saml/metadata"
	testSSO    = "https://idp.example.com/saml/sso"
	testACS    = "https://login.flex.us1.twilio.com/login/callback?connection=JQ0123456789abcdef0123456789abcdef"
)

var testSP = sp.ServiceProvider{Name: "flex", EntityID: "urn:flex:JQ0123456789abcdef0123456789abcdef", ACSURLs: []string{testACS},
	DefaultRedirectURL: "https://flex.twilio.com/dancing-owl-1234"}

func newTestIdP(t testing.TB, now time.Time) (*saml.IdP, *x509.Certificate) {
	t.Helper()
	key, cert := selfSigned(t, "idp", now)
	idp, err := saml.New(saml.Config{EntityID: testEntity, SSOURL: testSSO, SecureTransport: true, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	idp.SetKeys(&saml.KeySet{ID: "k1", Signer: key, Certificate: cert})
	return idp, cert
}

func lookup(s sp.ServiceProvider) saml.Lookup {
	return func(_ context.Context, entityID string) (sp.ServiceProvider, bool, error) {
		if entityID == s.EntityID {
			return s, true, nil
		}
		return sp.ServiceProvider{}, false, nil
	}
}

// authnRequest returns an HTTP-Redirect request carrying an AuthnRequest
// built by crewjam's SP code, after edit.
func authnRequest(t *testing.T, now time.Time, relay string, edit func(*crewjam.AuthnRequest)) (*http.Request, string) {
	t.Helper()
	acs, _ := url.Parse(testACS)
	ssoURL, _ := url.Parse(testSSO)
	csp := &crewjam.ServiceProvider{EntityID: testSP.EntityID, AcsURL: *acs, AuthnNameIDFormat: crewjam.UnspecifiedNameIDFormat}
	req, err := csp.MakeAuthenticationRequest(ssoURL.String(), crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	req.IssueInstant = now
	if edit != nil {
		edit(req)
	}
	d := etree.NewDocument()
	d.SetRoot(req.Element())
	raw, _ := d.WriteToBytes()
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = w.Write(raw)
	_ = w.Close()
	q := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(buf.Bytes())}}
	if relay != "" {
		q.Set("RelayState", relay)
	}
	return httptest.NewRequest(http.MethodGet, testSSO+"?"+q.Encode(), nil), req.ID
}

func TestParseRequest(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	idp, _ := newTestIdP(t, now)
	yes := true
	cases := []struct {
		name   string
		relay  string
		edit   func(*crewjam.AuthnRequest)
		errSay string
		check  func(*testing.T, *saml.Request)
	}{
		{name: "valid", relay: "r1", check: func(t *testing.T, r *saml.Request) {
			if r.ACSURL != testACS || r.SP != "flex" || r.RelayState != "r1" || r.ForceAuthn || r.IsPassive || r.NameIDFormat != "" {
				t.Fatalf("request = %+v", r)
			}
		}},
		{name: "ForceAuthn and IsPassive", edit: func(r *crewjam.AuthnRequest) { r.ForceAuthn, r.IsPassive = &yes, &yes },
			check: func(t *testing.T, r *saml.Request) {
				if !r.ForceAuthn || !r.IsPassive {
					t.Fatalf("flags lost: %+v", r)
				}
			}},
		{name: "no ACS URL uses the default", edit: func(r *crewjam.AuthnRequest) { r.AssertionConsumerServiceURL = "" },
			check: func(t *testing.T, r *saml.Request) {
				if r.ACSURL != testACS {
					t.Fatalf("ACS = %q", r.ACSURL)
				}
			}},
		{name: "NameID format asked", edit: func(r *crewjam.AuthnRequest) {
			f := attributes.NameIDFormatPersistent
			r.NameIDPolicy = &crewjam.NameIDPolicy{Format: &f}
		}, check: func(t *testing.T, r *saml.Request) {
			if r.NameIDFormat != attributes.NameIDFormatPersistent {
				t.Fatalf("format = %q", r.NameIDFormat)
			}
		}},
		{name: "unregistered ACS", edit: func(r *crewjam.AuthnRequest) { r.AssertionConsumerServiceURL = "https://evil.example.com/acs" }, errSay: "not registered"},
		{name: "unknown SP", edit: func(r *crewjam.AuthnRequest) { r.Issuer.Value = "urn:other" }, errSay: "does not know"},
		{name: "expired", edit: func(r *crewjam.AuthnRequest) { r.IssueInstant = now.Add(-time.Hour) }, errSay: "expired"},
		{name: "future", edit: func(r *crewjam.AuthnRequest) { r.IssueInstant = now.Add(time.Hour) }, errSay: "future"},
		{name: "wrong destination", edit: func(r *crewjam.AuthnRequest) { r.Destination = "https://other-idp.example.com/sso" }, errSay: "Destination"},
		{name: "wrong version", edit: func(r *crewjam.AuthnRequest) { r.Version = "1.1" }, errSay: "does not support"},
		{name: "relay state too long", relay: strings.Repeat("r", saml.MaxEchoedRelayState+1), errSay: "RelayState"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hr, id := authnRequest(t, now, c.relay, c.edit)
			req, found, err := idp.ParseRequest(hr, lookup(testSP))
			if c.errSay != "" {
				var re *saml.RequestError
				if !errors.As(err, &re) || !strings.Contains(re.Reason, c.errSay) {
					t.Fatalf("err = %v, want a RequestError saying %q", err, c.errSay)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.ID != id || found.Name != "flex" {
				t.Fatalf("ID %q, SP %q", req.ID, found.Name)
			}
			c.check(t, req)
		})
	}
	t.Run("lookup failure is not the requester's fault", func(t *testing.T) {
		hr, _ := authnRequest(t, now, "", nil)
		_, _, err := idp.ParseRequest(hr, func(context.Context, string) (sp.ServiceProvider, bool, error) {
			return sp.ServiceProvider{}, false, errors.New("database down")
		})
		if !errors.Is(err, saml.ErrLookup) {
			t.Fatalf("err = %v, want ErrLookup", err)
		}
	})
}

// verifySignature checks the enveloped signature of el with goxmldsig
// against cert, as an SP does.
func verifySignature(t *testing.T, el *etree.Element, cert *x509.Certificate) {
	t.Helper()
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
	vc.Clock = dsig.NewFakeClockAt(cert.NotBefore.Add(time.Minute))
	if _, err := vc.Validate(el.Copy()); err != nil {
		t.Fatalf("signature of %s does not verify: %v", el.Tag, err)
	}
}

func TestRespondSignsResponseAndAssertion(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	idp, cert := newTestIdP(t, now)
	rel := attributes.Released{NameID: "a@example.com", NameIDFormat: attributes.NameIDFormatEmail,
		Attributes: []attributes.Attribute{{Name: "email", Values: []string{"a@example.com"}}, {Name: "roles", Values: []string{"agent"}}}}
	s := testSP
	s.SessionNotOnOrAfter = 9 * time.Hour
	resp, err := idp.Respond(nil, s, rel, saml.Grant{SessionIndex: "_idx", AuthnInstant: now.Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if resp.ACSURL != testACS || resp.RelayState != s.DefaultRedirectURL {
		t.Fatalf("unsolicited Response goes to %q with RelayState %q", resp.ACSURL, resp.RelayState)
	}
	d := etree.NewDocument()
	if err := d.ReadFromBytes(resp.XML); err != nil {
		t.Fatal(err)
	}
	verifySignature(t, d.Root(), cert)
	a := d.Root().SelectElement("Assertion")
	verifySignature(t, a, cert)
	as := a.SelectElement("AuthnStatement")
	if got := as.SelectAttrValue("SessionNotOnOrAfter", ""); got != now.Add(-time.Minute+9*time.Hour).Format("2006-01-02T15:04:05Z07:00") {
		t.Errorf("SessionNotOnOrAfter = %q", got)
	}
	if got := as.FindElement(".//AuthnContextClassRef").Text(); got != "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport" {
		t.Errorf("AuthnContextClassRef = %q", got)
	}
	if d.Root().SelectAttr("InResponseTo") != nil {
		t.Error("unsolicited Response has InResponseTo")
	}
	if c := a.SelectElement("Conditions"); c.SelectAttrValue("NotBefore", "") != "2026-11-25T11:58:00Z" || c.SelectAttrValue("NotOnOrAfter", "") != "2026-11-25T12:05:00Z" {
		t.Errorf("Conditions = %v", c.Attr)
	}

	s.SessionNotOnOrAfter = 30 * time.Minute
	if _, err := idp.Respond(nil, s, rel, saml.Grant{SessionIndex: "_idx", AuthnInstant: now}); err == nil {
		t.Error("a SessionNotOnOrAfter below 1h was sent")
	}
	s.ACSURLs = nil
	if _, err := idp.Respond(nil, s, rel, saml.Grant{}); err == nil {
		t.Error("a Response was built for an SP without ACS URL")
	}
}

func TestErrorResponses(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	idp, cert := newTestIdP(t, now)
	hr, id := authnRequest(t, now, "", func(r *crewjam.AuthnRequest) {
		f := "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
		r.NameIDPolicy = &crewjam.NameIDPolicy{Format: &f}
	})
	req, s, err := idp.ParseRequest(hr, lookup(testSP))
	if err != nil {
		t.Fatal(err)
	}
	rel := attributes.Released{NameID: "a@example.com", NameIDFormat: attributes.NameIDFormatEmail,
		Attributes: []attributes.Attribute{{Name: "email", Values: []string{"a@example.com"}}}}
	resp, err := idp.Respond(req, s, rel, saml.Grant{SessionIndex: "_i", AuthnInstant: now})
	var se *saml.StatusError
	if !errors.As(err, &se) || resp == nil || se.Second != "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy" {
		t.Fatalf("Respond to a transient NameIDPolicy = %v, %v; want a signed InvalidNameIDPolicy Response", resp, err)
	}
	for name, doc := range map[string][]byte{"InvalidNameIDPolicy": resp.XML} {
		d := etree.NewDocument()
		_ = d.ReadFromBytes(doc)
		verifySignature(t, d.Root(), cert)
		if d.FindElement("//Assertion") != nil || d.Root().SelectAttrValue("InResponseTo", "") != id {
			t.Errorf("%s error Response carries an assertion or lacks InResponseTo", name)
		}
	}
	resp, err = idp.RespondError(req, s, saml.NoPassive())
	if err != nil {
		t.Fatal(err)
	}
	d := etree.NewDocument()
	_ = d.ReadFromBytes(resp.XML)
	verifySignature(t, d.Root(), cert)
	if got := d.FindElement("//StatusCode/StatusCode").SelectAttrValue("Value", ""); got != crewjam.StatusNoPassive {
		t.Errorf("second-level status = %q", got)
	}
}

func TestMetadata(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	idp, cert := newTestIdP(t, now)
	next, _ := newTestIdP(t, now)
	ks := idp.Keys()
	ks.Published = []*x509.Certificate{next.Keys().Certificate}
	idp.SetKeys(ks)
	ed := metadataOf(t, idp)
	if ed.EntityID != testEntity {
		t.Errorf("entityID = %q", ed.EntityID)
	}
	d := ed.IDPSSODescriptors[0]
	if len(d.KeyDescriptors) != 2 || d.KeyDescriptors[0].Use != "signing" || d.KeyDescriptors[1].Use != "signing" {
		t.Fatalf("key descriptors = %+v, want active then next, signing only", d.KeyDescriptors)
	}
	if got := d.KeyDescriptors[0].KeyInfo.X509Data.X509Certificates[0].Data; got != base64.StdEncoding.EncodeToString(cert.Raw) {
		t.Error("the active certificate is not first")
	}
	bindings := map[string]string{}
	for _, e := range d.SingleSignOnServices {
		bindings[e.Binding] = e.Location
	}
	if bindings[crewjam.HTTPRedirectBinding] != testSSO || bindings[crewjam.HTTPPostBinding] != testSSO {
		t.Errorf("SSO endpoints = %v", bindings)
	}
}
