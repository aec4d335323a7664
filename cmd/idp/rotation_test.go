package main

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/store"
)

// eventually polls cond until it holds or 15 seconds pass: the servers
// pick up key changes on their own refresh tick.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(15 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// certB64 is a PEM certificate as metadata carries it: base64 DER.
func certB64(t *testing.T, certPEM []byte) string {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatalf("not a PEM certificate: %q", certPEM)
	}
	return base64.StdEncoding.EncodeToString(block.Bytes)
}

// spTrusting is the Flex test SP configured, as Flex's Console is, with
// exactly one IdP certificate.
func spTrusting(t *testing.T, base string, certPEM []byte) *crewjam.ServiceProvider {
	t.Helper()
	sp := samltest.FlexSP(t, base)
	sp.IDPMetadata.IDPSSODescriptors[0].KeyDescriptors = []crewjam.KeyDescriptor{{
		Use: "signing",
		KeyInfo: crewjam.KeyInfo{X509Data: crewjam.X509Data{
			X509Certificates: []crewjam.X509Certificate{{Data: certB64(t, certPEM)}},
		}},
	}}
	return sp
}

// signInSignedBy runs an SP-initiated sign-in in br (prompting only if it
// has no session) and checks which certificate verifies the Response: an
// SP that trusts only want accepts it, one that trusts only other refuses.
func signInSignedBy(t *testing.T, br *samltest.Browser, base string, want, other []byte) {
	t.Helper()
	spWant, spOther := spTrusting(t, base, want), spTrusting(t, base, other)
	redirect, reqID := samltest.AuthnRedirect(t, spWant, "", nil)
	_, body := br.Get(redirect)
	if strings.Contains(body, `name="password"`) {
		var status int
		if status, body = br.Login(base, body, "agent@example.com", password); status != http.StatusOK {
			t.Fatalf("login: status %d\n%s", status, body)
		}
	}
	doc := samltest.Form(t, body).XML
	acs, _ := url.Parse(flexACS)
	if _, err := spWant.ParseXMLResponse(doc, []string{reqID}, *acs); err != nil {
		t.Fatalf("an SP trusting the expected certificate refuses the Response: %v", err)
	}
	if _, err := spOther.ParseXMLResponse(doc, []string{reqID}, *acs); err == nil {
		t.Fatal("an SP trusting only the other certificate accepts the Response: it is not signed by the expected key")
	}
	samltest.VerifyWithXmlsec(t, doc, want)
}

var addedKeyRE = regexp.MustCompile(`added next key (\S+)`)

// TestKeyRotation rotates the signing key the way README.md tells an
// administrator to, against a running server: keys add publishes the next
// certificate beside the active one, keys activate switches signing on
// the next refresh and retires the old key, and flex setup-values says
// which certificate to paste and when.
func TestKeyRotation(t *testing.T) {
	e := newTestEnv(t)
	e.getenv["IDP_KEY_ENCRYPTION_KEY"] = testKeyEncryptionKey
	e.getenv["IDP_KEY_REFRESH"] = "50ms"
	setupFlex(t, e)
	base := e.startServe()
	st := openTestStore(t, e)
	br := samltest.NewBrowser(t)

	oldPEM := getBody(t, base+"/saml/certificate.pem")
	keys, err := st.ListSigningKeys(t.Context())
	if err != nil || len(keys) != 1 {
		t.Fatalf("ListSigningKeys = %d keys, %v; want the one generated at start", len(keys), err)
	}
	oldID := keys[0].ID
	samltest.MustContain(t, e.cli("", "keys", "list"), oldID, "active")

	// 1. keys add: the next key is published, the old one still signs.
	m := addedKeyRE.FindStringSubmatch(e.cli("", "keys", "add", "--base-url", base))
	if m == nil {
		t.Fatal("keys add did not name the key it added")
	}
	newID := m[1]
	var newPEM []byte
	keys, _ = st.ListSigningKeys(t.Context())
	for _, k := range keys {
		if k.ID == newID {
			newPEM = k.CertificatePEM
			if k.State != store.KeyNext {
				t.Errorf("added key is %s, want next", k.State)
			}
			if strings.Contains(string(k.PrivateKey), "PRIVATE KEY") {
				t.Error("keys add stored the private key in the clear although IDP_KEY_ENCRYPTION_KEY is set")
			}
		}
	}
	if newPEM == nil {
		t.Fatalf("key %s is not in the store", newID)
	}
	samltest.MustContain(t, e.cli("", "keys", "list"), newID, "next")
	want := []string{certB64(t, oldPEM), certB64(t, newPEM)}
	eventually(t, "the metadata publishes the next key", func() bool { return len(metadataCerts(t, base)) == 2 })
	if got := metadataCerts(t, base); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatal("metadata must publish the active certificate first, then the next one")
	}
	if got := getBody(t, base+"/saml/certificate.pem"); string(got) != string(oldPEM) {
		t.Error("certificate.pem changed before activation")
	}
	signInSignedBy(t, br, base, oldPEM, newPEM)

	out := e.cli("", "flex", "setup-values", "--base-url", base)
	paste, next := strings.Index(out, "X.509 Certificate"), strings.Index(out, "NEXT signing key")
	if paste < 0 || next < paste || strings.Index(out, string(oldPEM)) < paste || strings.Index(out, string(oldPEM)) > next ||
		strings.Index(out, string(newPEM)) < next {
		t.Fatalf("setup-values must show the active certificate to paste now, then the next one:\n%s", out)
	}
	samltest.MustContain(t, out, "right after `idp keys activate`", "until then keep the one above")

	// The active key cannot be retired; unknown keys are named.
	samltest.MustContain(t, e.cliWant(1, "", "keys", "retire", oldID), "cannot be retired")
	samltest.MustContain(t, e.cliWant(1, "", "keys", "activate", "nosuchkey"), `no signing key "nosuchkey"`)

	// 2. keys activate: the server signs with the new key after its
	// refresh, and the old key leaves the metadata.
	samltest.MustContain(t, e.cli("", "keys", "activate", newID), "key "+newID+" is now active")
	// Key changes are admin changes: they are in the audit trail.
	samltest.MustContain(t, e.cli("", "audit", "tail", "--json"), "admin.key.add", "admin.key.activate", newID)
	eventually(t, "the server signs with the new key", func() bool {
		return string(getBody(t, base+"/saml/certificate.pem")) == string(newPEM)
	})
	if got := metadataCerts(t, base); strings.Join(got, ",") != want[1] {
		t.Fatalf("after activation the metadata publishes %d certificates, want only the new one", len(got))
	}
	signInSignedBy(t, br, base, newPEM, oldPEM) // the session survives the rotation

	keys, _ = st.ListSigningKeys(t.Context())
	states := map[string]store.KeyState{}
	for _, k := range keys {
		states[k.ID] = k.State
	}
	if len(states) != 2 || states[oldID] != store.KeyRetired || states[newID] != store.KeyActive {
		t.Errorf("key states after activation = %v, want %s retired and %s active", states, oldID, newID)
	}
	samltest.MustContain(t, e.cli("", "keys", "activate", newID), "already active")

	out = e.cli("", "flex", "setup-values", "--base-url", base)
	samltest.MustContain(t, out, string(newPEM))
	if strings.Contains(out, string(oldPEM)) || strings.Contains(out, "NEXT") {
		t.Errorf("after activation setup-values must show only the new certificate:\n%s", out)
	}
}

// TestServeWarnsWithoutKeyEncryption: without IDP_KEY_ENCRYPTION_KEY the
// generated key is stored in the clear, and serve says so.
func TestServeWarnsWithoutKeyEncryption(t *testing.T) {
	e := newTestEnv(t)
	p := e.launchServe()
	e.waitReady(p)
	samltest.MustContain(t, p.logs(), "private keys are stored unencrypted in the database; set IDP_KEY_ENCRYPTION_KEY")
	keys, err := openTestStore(t, e).ListSigningKeys(t.Context())
	if err != nil || len(keys) != 1 {
		t.Fatalf("ListSigningKeys = %d keys, %v", len(keys), err)
	}
	if !strings.HasPrefix(string(keys[0].PrivateKey), "-----BEGIN PRIVATE KEY-----") {
		t.Error("without IDP_KEY_ENCRYPTION_KEY the key should be stored as plain PEM")
	}
	// Setting a key later does not lock the clear key out; serve asks for
	// a rotation, which stores an encrypted key.
	e.getenv["IDP_KEY_ENCRYPTION_KEY"] = testKeyEncryptionKey
	p2 := e.launchServe()
	e.waitReady(p2)
	logs := p2.logs()
	if strings.Contains(logs, "stored unencrypted in the database") {
		t.Error("serve warns that keys are stored unencrypted although IDP_KEY_ENCRYPTION_KEY is set")
	}
	samltest.MustContain(t, logs, "not encrypted; rotate it")
}

// TestServeRefusesWrongKeyEncryptionKey: a key sealed under one
// IDP_KEY_ENCRYPTION_KEY stops serve at start under another, with a
// sentence saying what is wrong.
func TestServeRefusesWrongKeyEncryptionKey(t *testing.T) {
	e := newTestEnv(t)
	e.getenv["IDP_KEY_ENCRYPTION_KEY"] = testKeyEncryptionKey
	e.cli("", "flex", "setup-values", "--base-url", "http://localhost:8080") // generates the (sealed) key
	e.getenv["IDP_KEY_ENCRYPTION_KEY"] = "another-key-encryption-key-0123456789"
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	env, out, errb := e.env("")
	addr := freeAddr(t)
	if code := run(ctx, env, []string{"serve", "--listen", addr, "--base-url", "http://" + addr}); code != 1 {
		t.Fatalf("serve with the wrong key encryption key: exit %d, want 1\n%s%s", code, out, errb)
	}
	samltest.MustContain(t, errb.String(), "IDP_KEY_ENCRYPTION_KEY is not the key it was encrypted with")
}
