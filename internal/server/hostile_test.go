package server_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
)

// TestMaliciousRequests sends hostile requests to a running IdP. Each gets
// a 4xx, no stack trace, no SAMLResponse, and nothing is written: no
// session, no successful sign-in or Response in the audit trail, no
// consumed request ID.
func TestMaliciousRequests(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	h.updateSP(t, func(p *sp.ServiceProvider) { p.SLOURL = "https://login.flex.us1.twilio.com/logout" })
	base := h.URL
	honest, _ := samltest.AuthnRedirect(t, samltest.FlexSP(t, base), "", nil)
	honestQuery := honest[strings.Index(honest, "?")+1:]
	samlRequest, _ := url.ParseQuery(honestQuery)

	xxe := `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x" Version="2.0"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">&xxe;</saml:Issuer></samlp:AuthnRequest>`
	laughs := `<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><r>&c;</r>`
	nested := strings.Repeat("<a>", 10000) + strings.Repeat("</a>", 10000)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	get := func(path string, q url.Values) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, base+path+"?"+q.Encode(), nil)
		return r
	}
	post := func(path string, form url.Values) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	method := func(m, path string) *http.Request {
		r, _ := http.NewRequest(m, base+path, nil)
		return r
	}
	huge := func(path string) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader("SAMLRequest="+strings.Repeat("A", 5<<20)))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	cases := []struct {
		name string
		req  *http.Request
		want int
	}{
		{"XXE (redirect)", get("/saml/sso", url.Values{"SAMLRequest": {samltest.DeflateB64(xxe)}}), 400},
		{"XXE (POST)", post("/saml/sso", url.Values{"SAMLRequest": {b64(xxe)}}), 400},
		{"billion laughs", post("/saml/sso", url.Values{"SAMLRequest": {b64(laughs)}}), 400},
		{"10k nested elements", get("/saml/sso", url.Values{"SAMLRequest": {samltest.DeflateB64(nested)}}), 400},
		{"5 MB body", huge("/saml/sso"), 413},
		{"5 MB login form", huge("/login"), 413},
		{"oversized RelayState", get("/saml/sso", url.Values{"SAMLRequest": samlRequest["SAMLRequest"], "RelayState": {strings.Repeat("r", 2000)}}), 400},
		{"duplicate SAMLRequest", method(http.MethodGet, "/saml/sso?"+honestQuery+"&"+honestQuery), 400},
		{"duplicate SAMLRequest (POST)", post("/saml/sso", url.Values{"SAMLRequest": {"a", "b"}}), 400},
		{"PUT /saml/sso", method(http.MethodPut, "/saml/sso"), 405},
		{"DELETE /saml/slo", method(http.MethodDelete, "/saml/slo"), 405},
		{"GET /login/mfa", method(http.MethodGet, "/login/mfa"), 405},
		{"XXE logout", get("/saml/slo", url.Values{"SAMLRequest": {samltest.DeflateB64(strings.Replace(xxe, "AuthnRequest", "LogoutRequest", 2))}}), 400},
		{"logout from an unknown SP", post("/saml/slo", url.Values{"SAMLRequest": {b64(`<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_l" Version="2.0" IssueInstant="2030-01-01T00:00:00Z"><saml:Issuer>urn:evil</saml:Issuer><saml:NameID>agent@example.com</saml:NameID></samlp:LogoutRequest>`)}}), 400},
		{"MFA without a verified password", post("/login/mfa", url.Values{"code": {"123456"}}), 403},
		{"forged password link", method(http.MethodGet, "/password?token=forged"), 410},
		{"password form without CSRF", post("/password", url.Values{"token": {"forged"}, "password": {"a long password"}}), 403},
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := client.Do(c.req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			body := string(raw)
			if resp.StatusCode != c.want {
				t.Fatalf("status %d, want %d\n%.2000s", resp.StatusCode, c.want, body)
			}
			if strings.Contains(body, "SAMLResponse") || strings.Contains(body, "goroutine") || strings.Contains(body, "root:") {
				t.Fatalf("the answer leaks:\n%s", body)
			}
		})
	}

	for _, email := range []string{"agent@example.com", "sam.supervisor@example.com"} {
		if n := h.sessions(t, email); n != 0 {
			t.Errorf("%s has %d sessions", email, n)
		}
	}
	for _, action := range []string{"signin.success", "saml.response", "logout", "password.set"} {
		if got := h.audit(t, store.AuditFilter{Action: action}); len(got) != 0 {
			t.Errorf("audit trail has %s events: %v", action, got)
		}
	}
	if n := h.count(t, `SELECT count(*) FROM consumed_ids`); n != 0 {
		t.Errorf("%d request IDs consumed by hostile requests", n)
	}
}
