package server_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"

	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
)

// TestUnsignedRequestsRefused: once Flex's signing certificate is
// registered, a signed-in agent's browser that brings a stripped or
// re-wrapped AuthnRequest gets a clear 400 page, and nothing is written: no
// consumed request ID, no session, no Response in the audit trail. A
// request crewjam's SP code signed is still answered.
func TestUnsignedRequestsRefused(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	base := h.URL
	flex := samltest.FlexSP(t, base)
	cert := samltest.SignRequests(t, flex)
	h.updateSP(t, func(p *sp.ServiceProvider) { p.SigningCertificatePEM = string(cert) })
	written := func() (consumed, sessions, responses int) {
		t.Helper()
		return h.count(t, `SELECT count(*) FROM consumed_ids`), h.count(t, `SELECT count(*) FROM sessions`),
			len(h.audit(t, store.AuditFilter{Action: "saml.response"}))
	}

	b := samltest.NewBrowser(t)
	page, reqID := b.StartSignIn(flex)
	_, page = b.Login(base, page, "agent@example.com", password)
	samltest.Accepts(t, flex, samltest.Form(t, page), reqID)
	c0, s0, r0 := written()

	signedPost := func(t *testing.T) *etree.Document {
		req, err := flex.MakeAuthenticationRequest(base+"/saml/sso", crewjam.HTTPPostBinding, crewjam.HTTPPostBinding)
		if err != nil || req.Signature == nil {
			t.Fatalf("crewjam did not sign the POST request: %v", err)
		}
		d := etree.NewDocument()
		d.SetRoot(req.Element())
		return d
	}
	post := func(d *etree.Document) (int, string) {
		raw, _ := d.WriteToBytes()
		return b.Post(base+"/saml/sso", map[string][]string{"SAMLRequest": {base64.StdEncoding.EncodeToString(raw)}})
	}
	cases := map[string]func(t *testing.T) (int, string){
		"Redirect, SigAlg and Signature stripped": func(t *testing.T) (int, string) {
			u, _ := samltest.AuthnRedirect(t, flex, "relay", nil)
			u = u[:strings.Index(u, "&SigAlg=")]
			return b.Get(u)
		},
		"POST, signature stripped": func(t *testing.T) (int, string) {
			d := signedPost(t)
			d.Root().RemoveChild(d.Root().SelectElement("Signature"))
			return post(d)
		},
		"POST, signed request nested in an unsigned one": func(t *testing.T) (int, string) {
			outer := signedPost(t)
			outer.Root().RemoveChild(outer.Root().SelectElement("Signature"))
			outer.Root().CreateAttr("ID", "_outer")
			outer.Root().AddChild(signedPost(t).Root())
			return post(outer)
		},
	}
	for name, send := range cases {
		t.Run(name, func(t *testing.T) {
			status, body := send(t)
			if status != http.StatusBadRequest || strings.Contains(body, "SAMLResponse") {
				t.Fatalf("status %d, want 400 without a Response\n%.2000s", status, body)
			}
			samltest.MustContain(t, body, "signature", "flex")
			if c, s, r := written(); c != c0 || s != s0 || r != r0 {
				t.Fatalf("written: %d consumed IDs, %d sessions, %d Responses; want %d, %d, %d", c, s, r, c0, s0, r0)
			}
		})
	}

	page, reqID = b.StartSignIn(flex)
	samltest.Accepts(t, flex, samltest.Form(t, page), reqID)
}
