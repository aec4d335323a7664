package saml_test

import (
	"errors"
	"testing"

	"github.com/flexidp/flexidp/internal/saml"
)

// fuzzSeeds are the documents both fuzz targets start from: honest
// messages (made current when run) and every hostile document of the
// table test.
func fuzzSeeds(f *testing.F, honest ...string) {
	for _, d := range honest {
		f.Add([]byte(d), true, "relay")
		f.Add([]byte(d), false, "")
	}
	for _, c := range hostileDocs() {
		f.Add([]byte(c.doc), true, "")
	}
}

// checkOutcome: whatever the input, the parser answers a *RequestError or
// succeeds; it never panics (the fuzzer reports that) nor fails otherwise.
func checkOutcome(t *testing.T, err error) {
	t.Helper()
	var re *saml.RequestError
	if err != nil && !errors.As(err, &re) {
		t.Fatalf("error is not a RequestError: %T %v", err, err)
	}
}

// FuzzParseRequest drives the AuthnRequest decoding path with arbitrary
// documents, with both bindings. Its seeds run in the normal suite; run
// it with go test -fuzz=FuzzParseRequest ./internal/saml.
func FuzzParseRequest(f *testing.F) {
	fuzzSeeds(f, authnXML("_seed1"), authnXML("_seed2"))
	idp := newHostileIdP(f)
	f.Fuzz(func(t *testing.T, doc []byte, redirect bool, relay string) {
		req, provider, err := idp.ParseRequest(request("/saml/sso", redirect, current(doc), relay), idp.lookup)
		checkOutcome(t, err)
		if err == nil && (req.ACSURL != hostileACS || provider.Name != "app" || len(req.RelayState) > saml.MaxEchoedRelayState) {
			t.Fatalf("accepted a request for an unregistered ACS or SP: %+v", req)
		}
	})
}

// FuzzParseLogoutRequest is FuzzParseRequest for the LogoutRequest path.
func FuzzParseLogoutRequest(f *testing.F) {
	fuzzSeeds(f, logoutXML("_seed1", "ada@example.com", "_s1"), logoutXML("_seed2", "x", ""))
	idp := newHostileIdP(f)
	f.Fuzz(func(t *testing.T, doc []byte, redirect bool, relay string) {
		req, _, err := idp.ParseLogoutRequest(request("/saml/slo", redirect, current(doc), relay), idp.lookup)
		checkOutcome(t, err)
		if err == nil && (req.SLOURL != hostileSLO || req.NameID == "" || req.SP != "app") {
			t.Fatalf("accepted a logout request it should not: %+v", req)
		}
	})
}
