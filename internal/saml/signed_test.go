package saml_test

import (
	"encoding/base64"
	"encoding/pem"
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
		})
	}
}
