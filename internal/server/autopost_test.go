package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/samltest"
)

// TestAutoPostPage: the SAMLResponse is written into the auto-POST page
// as it is (base64 needs no escaping in a quoted attribute), not escaped
// character by character by the template, whatever the RelayState holds
// (the page is precompiled: values are written between its pieces, never
// searched for marks), and the Response is as good.
func TestAutoPostPage(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	flex := samltest.FlexSP(t, h.URL)
	b := samltest.NewBrowser(t)
	b.SignIn(flex, h.URL, "agent@example.com", password)

	for _, tc := range []struct {
		name, relay string
		asIs        bool
	}{
		{"no RelayState", "", true},
		{"RelayState", "https://flex.twilio.com/x?a=1&b=<2>", true},
		{"RelayState holding the marks", "flexidpSAMLmessage0mark flexidp0post0mark0C", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			redirect, reqID := samltest.AuthnRedirect(t, flex, tc.relay, nil)
			status, body := b.Get(redirect)
			samltest.WantStatus(t, "SSO", status, http.StatusOK, body)
			form := samltest.Form(t, body)
			samltest.Accepts(t, flex, form, reqID)
			msg := samltest.HiddenFields(body)["SAMLResponse"]
			if !strings.Contains(msg, "+") {
				t.Skip("this Response's base64 has no +: nothing would be escaped")
			}
			if asIs := strings.Contains(body, `name="SAMLResponse" value="`+msg+`">`); asIs != tc.asIs {
				t.Errorf("SAMLResponse written as is: %v, want %v", asIs, tc.asIs)
			}
			if got := samltest.HiddenFields(body)["RelayState"]; got != tc.relay {
				t.Errorf("RelayState %q, want %q", got, tc.relay)
			}
		})
	}
}
