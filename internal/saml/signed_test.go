package saml_test

import (
	"encoding/base64"
	"encoding/pem"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/flexidp/flexidp/internal/saml"
)

// signingSP is crewjam's SP with a key, signing its AuthnRequests.
func signingSP(t *testing.T, now time.Time) (*crewjam.ServiceProvider, string) {
	t.Helper()
	key, cert := selfSigned(t, "flex-sp", now)
	acs, _ := url.Parse(testACS)
	idpMD := &crewjam.EntityDescriptor{EntityID: testEntity, IDPSSODescriptors: []crewjam.IDPSSODescriptor{{
		SingleSignOnServices: []crewjam.Endpoint{{Binding: crewjam.HTTPRedirectBinding, Location: testSSO}, {Binding: crewjam.HTTPPostBinding, Location: testSSO}},
	}}}
	return &crewjam.ServiceProvider{EntityID: testSP.EntityID, AcsURL: *acs, Key: key, Certificate: cert, IDPMetadata: idpMD,
			SignatureMethod: dsig.RSASHA256SignatureMethod, AuthnNameIDFormat: crewjam.UnspecifiedNameIDFormat},
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
}

// signedRequest returns an AuthnRequest signed by csp, with the
// HTTP-Redirect binding (query signature) or HTTP-POST (enveloped).
func signedRequest(t *testing.T, csp *crewjam.ServiceProvider, now time.Time, binding string) *http.Request {
	t.Helper()
	req, err := csp.MakeAuthenticationRequest(testSSO, binding, crewjam.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	if binding == crewjam.HTTPRedirectBinding {
		u, err := req.Redirect("relay", csp)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(u.RawQuery, "Signature=") {
			t.Fatal("crewjam did not sign the redirect")
		}
		return httptest.NewRequest(http.MethodGet, u.String(), nil)
	}
	if req.Signature == nil {
		t.Fatal("crewjam did not sign the POST request")
	}
	d := etree.NewDocument()
	d.SetRoot(req.Element())
	raw, _ := d.WriteToBytes()
	form := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(raw)}, "RelayState": {"relay"}}
	hr := httptest.NewRequest(http.MethodPost, testSSO, strings.NewReader(form.Encode()))
	hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return hr
}

func TestSignedAuthnRequests(t *testing.T) {
	now := time.Now().UTC()
	idp, _ := newTestIdP(t, now)
	csp, certPEM := signingSP(t, now)
	_, otherPEM := signingSP(t, now)
	for _, binding := range []string{crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding} {
		t.Run(binding[strings.LastIndex(binding, ":")+1:], func(t *testing.T) {
			withCert := testSP
			withCert.SigningCertificatePEM = certPEM
			req, _, err := idp.ParseRequest(signedRequest(t, csp, now, binding), lookup(withCert))
			if err != nil || req.UnverifiedSignature || req.RelayState != "relay" {
				t.Fatalf("signed request with the registered certificate: %+v, %v", req, err)
			}

			wrongCert := testSP
			wrongCert.SigningCertificatePEM = otherPEM
			_, _, err = idp.ParseRequest(signedRequest(t, csp, now, binding), lookup(wrongCert))
			var re *saml.RequestError
			if !errors.As(err, &re) || !strings.Contains(re.Reason, "signature") {
				t.Fatalf("signed with another key: err = %v, want a signature error", err)
			}

			// No certificate registered: the signature cannot be checked,
			// and the request is taken as if unsigned (and says so).
			req, _, err = idp.ParseRequest(signedRequest(t, csp, now, binding), lookup(testSP))
			if err != nil || !req.UnverifiedSignature || req.ACSURL != testACS || req.RelayState != "relay" {
				t.Fatalf("signed request, no certificate registered: %+v, %v", req, err)
			}
		})
	}
}

// TestSignedLogoutRequests: an SP that registered its signing certificate
// must sign its LogoutRequests with it (query string or enveloped).
func TestSignedLogoutRequests(t *testing.T) {
	idp := newHostileIdP(t)
	now := time.Now().UTC()
	signer, certPEM := signingSP(t, now)
	_, otherPEM := signingSP(t, now)
	spc := idp.crewjamSP(t)
	spc.Key, spc.Certificate, spc.SignatureMethod = signer.Key, signer.Certificate, dsig.RSASHA256SignatureMethod

	logout := func(t *testing.T, binding string, signed bool) *http.Request {
		t.Helper()
		s := *spc
		if !signed {
			s.SignatureMethod = ""
		}
		if binding == crewjam.HTTPRedirectBinding {
			u, err := s.MakeRedirectLogoutRequest("ada@example.com", "relay", crewjam.WithSessionIndex("_s"))
			if err != nil {
				t.Fatal(err)
			}
			return httptest.NewRequest(http.MethodGet, u.String(), nil)
		}
		lr, err := s.MakeLogoutRequest(idp.SLOURL(), "ada@example.com", crewjam.WithSessionIndex("_s"))
		if err != nil {
			t.Fatal(err)
		}
		d := etree.NewDocument()
		d.SetRoot(lr.Element())
		raw, _ := d.WriteToBytes()
		form := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(raw)}, "RelayState": {"relay"}}
		hr := httptest.NewRequest(http.MethodPost, idp.SLOURL(), strings.NewReader(form.Encode()))
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return hr
	}
	for _, binding := range []string{crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding} {
		t.Run(binding[strings.LastIndex(binding, ":")+1:], func(t *testing.T) {
			idp.sp.SigningCertificatePEM = certPEM
			req, _, err := idp.ParseLogoutRequest(logout(t, binding, true), idp.lookup)
			if err != nil || req.NameID != "ada@example.com" || req.RelayState != "relay" || len(req.SessionIndexes) != 1 {
				t.Fatalf("signed LogoutRequest with the registered certificate: %+v, %v", req, err)
			}
			for name, c := range map[string]struct {
				cert   string
				signed bool
			}{"unsigned": {certPEM, false}, "signed with another key": {otherPEM, true}} {
				idp.sp.SigningCertificatePEM = c.cert
				_, _, err := idp.ParseLogoutRequest(logout(t, binding, c.signed), idp.lookup)
				var re *saml.RequestError
				if !errors.As(err, &re) || !strings.Contains(re.Reason, "signature") {
					t.Fatalf("%s: err = %v, want a signature error", name, err)
				}
			}
			// --require-signed-requests=false: unsigned is taken (the
			// SessionIndex still ties it to the session), signed must verify.
			idp.sp.SigningCertificatePEM, idp.sp.AllowUnsignedRequests = certPEM, true
			if _, _, err := idp.ParseLogoutRequest(logout(t, binding, false), idp.lookup); err != nil {
				t.Errorf("unsigned LogoutRequest with --require-signed-requests=false: %v", err)
			}
			idp.sp.SigningCertificatePEM = otherPEM
			if _, _, err := idp.ParseLogoutRequest(logout(t, binding, true), idp.lookup); err == nil {
				t.Error("wrongly signed LogoutRequest accepted with --require-signed-requests=false")
			}
			idp.sp.AllowUnsignedRequests = false
		})
	}
}

var samlRequestField = regexp.MustCompile(`name="SAMLRequest" value="([^"]*)"`)

// postSigned is an AuthnRequest signed by csp with crewjam's own HTTP-POST
// code, as its XML document, so that tests can tamper with it.
func postSigned(t *testing.T, csp *crewjam.ServiceProvider) *etree.Document {
	t.Helper()
	form, err := csp.MakePostAuthenticationRequest("relay")
	if err != nil {
		t.Fatal(err)
	}
	m := samlRequestField.FindSubmatch(form)
	if m == nil {
		t.Fatalf("no SAMLRequest in crewjam's form:\n%s", form)
	}
	raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(string(m[1])))
	if err != nil {
		t.Fatal(err)
	}
	d := etree.NewDocument()
	if err := d.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	if d.Root().SelectElement("Signature") == nil {
		t.Fatal("crewjam did not sign the POST request")
	}
	return d
}

func postDoc(t *testing.T, d *etree.Document) *http.Request {
	t.Helper()
	raw, err := d.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(raw)}, "RelayState": {"relay"}}
	hr := httptest.NewRequest(http.MethodPost, testSSO, strings.NewReader(form.Encode()))
	hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return hr
}

// redirectSigned is an AuthnRequest signed by csp with crewjam's own
// HTTP-Redirect code, as the URL the SP sends the browser to.
func redirectSigned(t *testing.T, csp *crewjam.ServiceProvider) *url.URL {
	t.Helper()
	u, err := csp.MakeRedirectAuthenticationRequest("relay")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(u.RawQuery, "&Signature=") {
		t.Fatal("crewjam did not sign the redirect")
	}
	return u
}

// editQuery rewrites the raw query of u parameter by parameter, keeping
// the others exactly as sent; edit returns the new raw value, or "" to
// drop the parameter.
func editQuery(u *url.URL, edit func(key, raw string) string) *http.Request {
	var kept []string
	for _, p := range strings.Split(u.RawQuery, "&") {
		k, v, _ := strings.Cut(p, "=")
		if v = edit(k, v); v != "" {
			kept = append(kept, k+"="+v)
		}
	}
	c := *u
	c.RawQuery = strings.Join(kept, "&")
	return httptest.NewRequest(http.MethodGet, c.String(), nil)
}

// TestRequireSignedRequests: with the SP's signing certificate registered,
// only an AuthnRequest signed over the whole request is answered: the
// query string (SAMLRequest, RelayState, SigAlg as sent) with
// HTTP-Redirect, an enveloped signature referencing the root element with
// HTTP-POST. Stripped, re-wrapped or otherwise tampered requests, made from
// requests crewjam's SP code signed, are refused with a sentence that says
// so.
func TestRequireSignedRequests(t *testing.T) {
	now := time.Now().UTC()
	idp, _ := newTestIdP(t, now)
	csp, certPEM := signingSP(t, now)
	other, _ := signingSP(t, now)
	for _, s := range []*crewjam.ServiceProvider{csp, other} {
		s.IDPMetadata.IDPSSODescriptors[0].SingleSignOnServices[0].Location = testSSO
	}
	withCert := testSP
	withCert.SigningCertificatePEM = certPEM

	keep := func(_, v string) string { return v }
	stripped := func(d *etree.Document) *etree.Document {
		d.Root().RemoveChild(d.Root().SelectElement("Signature"))
		return d
	}
	cases := []struct {
		name string
		req  func(t *testing.T) *http.Request
		ok   bool
	}{
		{"Redirect, signed", func(t *testing.T) *http.Request { return editQuery(redirectSigned(t, csp), keep) }, true},
		{"POST, signed", func(t *testing.T) *http.Request { return postDoc(t, postSigned(t, csp)) }, true},

		{"Redirect, SigAlg and Signature stripped", func(t *testing.T) *http.Request {
			return editQuery(redirectSigned(t, csp), func(k, v string) string {
				if k == "SigAlg" || k == "Signature" {
					return ""
				}
				return v
			})
		}, false},
		{"Redirect, Signature stripped", func(t *testing.T) *http.Request {
			return editQuery(redirectSigned(t, csp), func(k, v string) string {
				if k == "Signature" {
					return ""
				}
				return v
			})
		}, false},
		{"Redirect, RelayState changed", func(t *testing.T) *http.Request {
			return editQuery(redirectSigned(t, csp), func(k, v string) string {
				if k == "RelayState" {
					return "elsewhere"
				}
				return v
			})
		}, false},
		{"Redirect, signature of another request", func(t *testing.T) *http.Request {
			first := redirectSigned(t, csp)
			return editQuery(redirectSigned(t, csp), func(k, v string) string {
				if k == "Signature" {
					return first.Query().Get("Signature")
				}
				return v
			})
		}, false},
		{"Redirect, signed with another key", func(t *testing.T) *http.Request { return editQuery(redirectSigned(t, other), keep) }, false},
		{"Redirect, enveloped signature only", func(t *testing.T) *http.Request {
			raw, _ := postSigned(t, csp).WriteToBytes()
			q := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(deflate(raw))}, "RelayState": {"relay"}}
			return httptest.NewRequest(http.MethodGet, testSSO+"?"+q.Encode(), nil)
		}, false},

		{"POST, signature stripped", func(t *testing.T) *http.Request { return postDoc(t, stripped(postSigned(t, csp))) }, false},
		{"POST, signed request nested in an unsigned one", func(t *testing.T) *http.Request {
			signed := postSigned(t, csp)
			outer := stripped(postSigned(t, csp))
			outer.Root().CreateAttr("ID", "_outer")
			outer.Root().AddChild(signed.Root())
			return postDoc(t, outer)
		}, false},
		{"POST, element added beside the signed ones", func(t *testing.T) *http.Request {
			d := postSigned(t, csp)
			subj := d.Root().CreateElement("saml:Subject")
			subj.CreateAttr("xmlns:saml", "urn:oasis:names:tc:SAML:2.0:assertion")
			subj.CreateElement("saml:NameID").SetText("victim@example.com")
			return postDoc(t, d)
		}, false},
		{"POST, signature referencing another element", func(t *testing.T) *http.Request {
			d := postSigned(t, csp)
			original := stripped(postSigned(t, csp)).Root()
			original.CreateAttr("ID", d.Root().SelectAttrValue("ID", ""))
			d.Root().CreateAttr("ID", "_wrapper")
			d.Root().AddChild(original)
			return postDoc(t, d)
		}, false},
		{"POST, two Signature elements", func(t *testing.T) *http.Request {
			d := postSigned(t, csp)
			d.Root().AddChild(d.Root().SelectElement("Signature").Copy())
			return postDoc(t, d)
		}, false},
		{"POST, signed with another key", func(t *testing.T) *http.Request { return postDoc(t, postSigned(t, other)) }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _, err := idp.ParseRequest(c.req(t), lookup(withCert))
			if c.ok {
				if err != nil || req.RelayState != "relay" || req.ACSURL != testACS {
					t.Fatalf("genuinely signed request refused: %+v, %v", req, err)
				}
				return
			}
			var re *saml.RequestError
			if !errors.As(err, &re) || !strings.Contains(re.Reason, "signature") {
				t.Fatalf("err = %v (request %+v), want a RequestError about the signature", err, req)
			}
		})
	}

	// Turned off (idp sp set --require-signed-requests=false): an unsigned
	// request is answered, a signed one must still verify.
	allow := withCert
	allow.AllowUnsignedRequests = true
	if _, _, err := idp.ParseRequest(postDoc(t, stripped(postSigned(t, csp))), lookup(allow)); err != nil {
		t.Errorf("unsigned request with --require-signed-requests=false: %v", err)
	}
	if _, _, err := idp.ParseRequest(postDoc(t, postSigned(t, other)), lookup(allow)); err == nil {
		t.Error("wrongly signed request accepted with --require-signed-requests=false")
	}
}
