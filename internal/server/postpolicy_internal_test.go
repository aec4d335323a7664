package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/i18n"
	"github.com/flexidp/flexidp/internal/saml"
)

// TestPostPolicy: the auto-POST page's policy allows posting to the ACS
// URL's origin and nowhere else, for every address, whether its policy
// was kept or worked out (beyond the addresses kept), and a URL that
// does not parse is refused.
func TestPostPolicy(t *testing.T) {
	postPolicies.Store(nil)
	t.Cleanup(func() { postPolicies.Store(nil) })
	for round := range 2 { // worked out, then kept
		for _, tc := range []struct{ acs, origin string }{
			{"https://flex.twilio.com/ac123/saml/acs?a=1", "https://flex.twilio.com"},
			{"https://login.flex.us1.twilio.com/login/callback?connection=JQ01", "https://login.flex.us1.twilio.com"},
			{"http://localhost:8080/acs", "http://localhost:8080"},
			{"https://flex.twilio.com:8443/acs", "https://flex.twilio.com:8443"},
		} {
			got, err := postPolicy(tc.acs)
			if want := csp("'self' " + tc.origin); err != nil || got != want {
				t.Errorf("round %d: postPolicy(%q) = %q, %v; want %q", round, tc.acs, got, err, want)
			}
		}
	}
	for n := range maxPostPolicies + 10 {
		acs := fmt.Sprintf("https://sp%d.example.com/acs", n)
		for range 2 {
			if got, err := postPolicy(acs); err != nil || !strings.Contains(got, fmt.Sprintf("form-action 'self' https://sp%d.example.com;", n)) {
				t.Fatalf("postPolicy(%q) = %q, %v", acs, got, err)
			}
		}
	}
	if n := len(*postPolicies.Load()); n != maxPostPolicies {
		t.Errorf("%d policies kept, want %d", n, maxPostPolicies)
	}
	if got, err := postPolicy("https://flex.twilio.com/%zz"); err == nil {
		t.Errorf("postPolicy of a URL that does not parse = %q, want an error", got)
	}
}

// TestRenderPostAllocations: around the page (writePost), renderPost
// allocates only the policy's header value; the policy itself is kept per
// ACS URL (postPolicy). It parsed the URL and built the policy for every
// Response: 3 allocations.
func TestRenderPostAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are counted without the race detector")
	}
	s, r := postPageRequest(t)
	p := page{Title: "title.post", SPName: "Twilio Flex", ACSURL: "https://flex.twilio.com/ac123/saml/acs", SAMLResponse: "PHNhbWxwOlJlc3BvbnNlPgo=", RelayState: "x"}
	w := httptest.NewRecorder()
	count := func(write func()) float64 {
		return testing.AllocsPerRun(50, func() {
			w.Body.Reset()
			w.HeaderMap = http.Header{}
			write()
		})
	}
	resp := &saml.Response{ACSURL: p.ACSURL, RelayState: p.RelayState, XML: []byte("<samlp:Response>\n")} // p's SAMLResponse
	page := count(func() { s.writePost(w, r, p) })
	all := count(func() { s.renderPost(w, r, p.SPName, resp) })
	if all-page > 1 {
		t.Errorf("renderPost made %.0f allocations besides the page's %.0f, want 1 (the policy header)", all-page, page)
	}
	if got := w.Header().Get("Content-Security-Policy"); got != csp("'self' https://flex.twilio.com") {
		t.Errorf("policy %q", got)
	}
}

// postPageRequest is a test server and an SSO request, in English and
// with a request ID, to render auto-POST pages for.
func postPageRequest(t *testing.T) (*Server, *http.Request) {
	t.Helper()
	s := newTestServer(t, Config{}, "https://idp.example.com", nil)
	r := httptest.NewRequest(http.MethodGet, "/saml/sso?SAMLRequest=fZJRT%2BMwEITf&RelayState=x", nil)
	return s, r.WithContext(i18n.NewContext(context.WithValue(r.Context(), requestIDKey, "0123456789abcdef"), "en"))
}
