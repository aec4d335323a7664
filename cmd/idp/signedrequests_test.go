package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/flexidp/flexidp/internal/store"
)

// signRequestsAs gives sp a key and certificate to sign its requests with,
// and returns the certificate's PEM file.
func signRequestsAs(t *testing.T, sp *crewjam.ServiceProvider) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "flex-sp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	sp.Key, sp.Certificate, sp.SignatureMethod = key, nil, dsig.RSASHA256SignatureMethod
	if sp.Certificate, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "sp.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestUnsignedRequestsRefused: once Flex's signing certificate is
// registered, a signed-in agent's browser that brings a stripped or
// re-wrapped AuthnRequest gets a clear 400 page, and nothing is written: no
// consumed request ID, no session, no Response in the audit trail. A
// request crewjam's SP code signed is still answered.
func TestUnsignedRequestsRefused(t *testing.T) {
	e := newTestEnv(t)
	setupFlex(t, e)
	base := e.startServe()
	sp := flexTestSP(t, base)
	out := e.cli("", "sp", "set", "--sp", "flex", "--signing-cert", signRequestsAs(t, sp))
	mustContain(t, out, "must now be signed")
	st := openPG(t, e)
	written := func() (consumed, sessions, responses int) {
		t.Helper()
		if err := st.Pool().QueryRow(t.Context(), `SELECT (SELECT count(*) FROM consumed_ids), (SELECT count(*) FROM sessions)`).Scan(&consumed, &sessions); err != nil {
			t.Fatal(err)
		}
		return consumed, sessions, len(auditActions(t, st, store.AuditFilter{Action: "saml.response"}))
	}

	b := newBrowser(t)
	page, reqID := b.startSignIn(sp)
	_, page = b.login(base, page, "agent@example.com", password)
	flexAccepts(t, sp, samlForm(t, page), reqID)
	c0, s0, r0 := written()

	signedPost := func(t *testing.T) *etree.Document {
		req, err := sp.MakeAuthenticationRequest(base+"/saml/sso", crewjam.HTTPPostBinding, crewjam.HTTPPostBinding)
		if err != nil || req.Signature == nil {
			t.Fatalf("crewjam did not sign the POST request: %v", err)
		}
		d := etree.NewDocument()
		d.SetRoot(req.Element())
		return d
	}
	post := func(d *etree.Document) (int, string) {
		raw, _ := d.WriteToBytes()
		return b.post(base+"/saml/sso", map[string][]string{"SAMLRequest": {base64.StdEncoding.EncodeToString(raw)}})
	}
	cases := map[string]func(t *testing.T) (int, string){
		"Redirect, SigAlg and Signature stripped": func(t *testing.T) (int, string) {
			u, _ := authnRedirect(t, sp, "relay", nil)
			u = u[:strings.Index(u, "&SigAlg=")]
			return b.get(u)
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
			mustContain(t, body, "signature", "flex")
			if c, s, r := written(); c != c0 || s != s0 || r != r0 {
				t.Fatalf("written: %d consumed IDs, %d sessions, %d Responses; want %d, %d, %d", c, s, r, c0, s0, r0)
			}
		})
	}

	page, reqID = b.startSignIn(sp)
	flexAccepts(t, sp, samlForm(t, page), reqID)

	out = e.cli("", "sp", "set", "--sp", "flex", "--require-signed-requests=false")
	mustContain(t, out, "UNSIGNED")
}
