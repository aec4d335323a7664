package saml_test

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/saml"
	"github.com/flexidp/flexidp/internal/sp"
)

// fixedSigner answers every Sign with the same bytes: the writer's own
// work, without RSA's (BenchmarkRSASign is that part).
type fixedSigner struct {
	pub *rsa.PublicKey
	sig []byte
}

func (f fixedSigner) Public() crypto.PublicKey { return f.pub }

func (f fixedSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return bytes.Clone(f.sig), nil // as rsa.SignPKCS1v15, a new slice
}

// withoutRSA is benchIdP signing with fixedSigner, which costs nothing,
// and a Response's request, release and grant for its SP.
func withoutRSA(tb testing.TB) (*saml.IdP, sp.ServiceProvider, attributes.Released, *saml.Request, saml.Grant) {
	tb.Helper()
	idp, s, _ := benchIdP(tb)
	key, cert := selfSigned(tb, "https://idp.example.com/saml/metadata", time.Now())
	idp.SetKeys(&saml.KeySet{ID: "bench", Signer: fixedSigner{pub: &key.PublicKey, sig: make([]byte, 256)}, Certificate: cert})
	req := &saml.Request{ID: "id-0123456789abcdef", SP: s.Name, ACSURL: benchACS, RelayState: "relay", IssueInstant: time.Now()}
	g := saml.Grant{SessionIndex: "_0123456789abcdef0123456789abcdef", AuthnInstant: time.Now()}
	return idp, s, benchReleased(tb), req, g
}

// BenchmarkRespondWithoutRSA is BenchmarkRespond with a signer that
// costs nothing: the Response path's own time and allocations, which
// the two RSA signatures hide in BenchmarkRespond (their own
// allocations, 4 per signature, are in both).
func BenchmarkRespondWithoutRSA(b *testing.B) {
	idp, s, rel, req, g := withoutRSA(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := idp.Respond(req, s, rel, g); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRespondAllocations: a Response is written within its allocation
// budget. The document is one allocation (its base64 form none: see
// TestResponseCarriesNoBase64), the
// Assertion's structure (as crewjam.Assertion, which the differential
// test compares) three, the two IDs one each, the Response one, and each
// RSA signature 4 of its own; scratch buffers, SHA-256 states and the
// certificate's base64 are not allocated per Response. It was 38.
func TestRespondAllocations(t *testing.T) {
	if saml.RaceEnabled {
		t.Skip("allocations are counted without the race detector")
	}
	idp, s, _ := benchIdP(t)
	rel := benchReleased(t)
	req := &saml.Request{ID: "id-0123456789abcdef", SP: s.Name, ACSURL: benchACS, RelayState: "relay", IssueInstant: time.Now()}
	g := saml.Grant{SessionIndex: "_0123456789abcdef0123456789abcdef", AuthnInstant: time.Now()}
	allocs := testing.AllocsPerRun(10, func() {
		if _, err := idp.Respond(req, s, rel, g); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 15 {
		t.Errorf("Respond made %.0f allocations, want at most 15", allocs)
	}
}

// TestResponseCarriesNoBase64: a Response carries its document, not its
// base64 form too. The auto-POST page encodes the document into its own
// buffer; a Response that also encoded it, for a string nothing in
// production reads, allocated one more copy, a third larger than the
// document. Measured in bytes allocated per Response, with a signer that
// allocates only its signature, for the successful and the error
// Response (both written by the same code).
func TestResponseCarriesNoBase64(t *testing.T) {
	if saml.RaceEnabled {
		t.Skip("allocations are counted without the race detector")
	}
	idp, s, rel, req, g := withoutRSA(t)
	for _, tc := range []struct {
		name    string
		respond func() (*saml.Response, error)
	}{
		{"Respond", func() (*saml.Response, error) { return idp.Respond(req, s, rel, g) }},
		{"RespondError", func() (*saml.Response, error) { return idp.RespondError(req, s, saml.NoPassive()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := tc.respond() // warms the writer's pools
			if err != nil {
				t.Fatal(err)
			}
			const runs = 50
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for range runs {
				if _, err := tc.respond(); err != nil {
					t.Fatal(err)
				}
			}
			runtime.ReadMemStats(&after)
			perResponse := int(after.TotalAlloc-before.TotalAlloc) / runs
			encoded := base64.StdEncoding.EncodedLen(len(resp.XML))
			if besides := perResponse - len(resp.XML); besides >= encoded {
				t.Errorf("%s allocated %d bytes per Response, %d besides its %d-byte document: a base64 copy (%d bytes) fits in it",
					tc.name, perResponse, besides, len(resp.XML), encoded)
			}
		})
	}
}

// TestConcurrentResponsesShareNoBytes: the writer's pooled buffers never
// end up in a Response. Responses written at the same time, each to its
// own user, keep their bytes once the others are written; each document
// is the one its base64 carries, and names only its own user and IDs.
// Run with -race, a buffer shared between two Responses is also a data
// race.
func TestConcurrentResponsesShareNoBytes(t *testing.T) {
	idp, s, _ := benchIdP(t)
	const writers, each = 4, 25
	type written struct {
		resp  *saml.Response
		xml   []byte // a copy taken as soon as it was written
		email string
	}
	out := make([][]written, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range each {
				email := fmt.Sprintf("user%d-%d@example.com", w, n)
				// Different lengths, so that a buffer reused without its
				// length reset would show another Response's tail.
				name := fmt.Sprintf("User %d %0*d", w, 1+(w*each+n)%40, n)
				rel := released(t, email, name)
				req := &saml.Request{ID: fmt.Sprintf("id-req-%d-%d", w, n), SP: s.Name, ACSURL: benchACS, IssueInstant: time.Now()}
				resp, err := idp.Respond(req, s, rel, saml.Grant{SessionIndex: "_s", AuthnInstant: time.Now()})
				if err != nil {
					t.Error(err)
					return
				}
				out[w] = append(out[w], written{resp: resp, xml: bytes.Clone(resp.XML), email: email})
			}
		}()
	}
	wg.Wait()
	ids := map[string]bool{}
	for _, ws := range out {
		for _, w := range ws {
			if !bytes.Equal(w.resp.XML, w.xml) {
				t.Fatalf("the Response to %s changed after it was written:\nthen %s\nnow  %s", w.email, shorten(w.xml), shorten(w.resp.XML))
			}
			if dec, err := base64.StdEncoding.DecodeString(w.resp.SAMLResponse()); err != nil || !bytes.Equal(dec, w.xml) {
				t.Fatalf("the SAMLResponse to %s is not its document (%v)", w.email, err)
			}
			if n := bytes.Count(w.xml, []byte(w.email)); n != 2 { // the NameID and the email attribute
				t.Errorf("the Response to %s names them %d times, want 2", w.email, n)
			}
			if n := bytes.Count(w.xml, []byte("@example.com")); n != 2 {
				t.Errorf("the Response to %s holds %d addresses, want its own 2", w.email, n)
			}
			for _, id := range []string{w.resp.ResponseID, w.resp.AssertionID} {
				if ids[id] || !bytes.Contains(w.xml, []byte(`ID="`+id+`"`)) {
					t.Errorf("the Response to %s: ID %s seen twice or not in it", w.email, id)
				}
				ids[id] = true
			}
			checkCanonical(t, w.xml)
		}
	}
}

// released is what the benchmark's user releases, for another address
// and name.
func released(t testing.TB, email, name string) attributes.Released {
	t.Helper()
	rel, err := attributes.Release(attributes.Subject{
		ID: "0b6d2c4e-3f0a-4d7e-9a51-6f1c2b3d4e5f", Email: email, FullName: name,
		Roles: []string{"agent"}, Team: "Sales",
	}, attributes.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

// TestSignatureCarriesItsCertificate: the certificate's base64 in KeyInfo
// is written once per certificate, not per Response; a Response still
// carries the certificate it is signed with when the keys change and
// change back, and when two IdPs with their own keys alternate.
func TestSignatureCarriesItsCertificate(t *testing.T) {
	idp, _ := newTestIdP(t, writerNow)
	other, _ := newTestIdP(t, writerNow)
	keyA, certA := selfSigned(t, "a", writerNow)
	keyB, certB := selfSigned(t, "b", writerNow)
	rel := benchReleased(t)
	for _, tc := range []struct {
		name string
		idp  *saml.IdP
		key  *rsa.PrivateKey
		cert *x509.Certificate
	}{
		{"first key", idp, keyA, certA},
		{"rotated", idp, keyB, certB},
		{"rotated back", idp, keyA, certA},
		{"another IdP", other, keyB, certB},
		{"the first IdP again", idp, keyA, certA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.idp.SetKeys(&saml.KeySet{ID: tc.name, Signer: tc.key, Certificate: tc.cert})
			resp, err := tc.idp.Respond(nil, testSP, rel, saml.Grant{SessionIndex: "_s", AuthnInstant: writerNow})
			if err != nil {
				t.Fatal(err)
			}
			want := "<ds:X509Certificate>" + base64.StdEncoding.EncodeToString(tc.cert.Raw) + "</ds:X509Certificate>"
			if n := bytes.Count(resp.XML, []byte("<ds:X509Certificate>")); n != 2 || bytes.Count(resp.XML, []byte(want)) != 2 {
				t.Errorf("the Response carries %d certificates, want the one it is signed with, in both Signatures", n)
			}
			verifyBoth(t, tc.idp, tc.cert, resp.XML, "")
		})
	}
}
