// Package samltest checks flexidp's SAML Responses the way real service
// providers do, with implementations flexidp did not write: crewjam's SP
// code, xmlsec1, and python3-saml (OneLogin) in strict mode. It also has a
// cookie-keeping test browser. It is for tests only, like net/http/httptest.
//
// A check whose tool is not installed skips the test, and fails it when
// CI=true: under CI every verifier must run.
package samltest

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/flexidp/flexidp/internal/store"
)

// The Flex account the tests register (Enhanced SSO).
const (
	FlexConn     = "JQ0123456789abcdef0123456789abcdef"
	FlexACS      = "https://login.flex.us1.twilio.com/login/callback?connection=" + FlexConn
	FlexAudience = "urn:flex:" + FlexConn
)

// Require fails the test under CI, and skips it elsewhere, when a tool it
// needs is missing: a check that cannot run must never pass silently.
func Require(t testing.TB, tool, install string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI (%s)", tool, install)
	}
	t.Skipf("%s is not installed (%s): skipped", tool, install)
}

// Browser is a cookie-keeping HTTP client, like an agent's browser.
type Browser struct {
	t testing.TB
	C *http.Client
}

// NewBrowser returns a Browser with an empty cookie jar.
func NewBrowser(t testing.TB) *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{t: t, C: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// Do sends req and returns the status and body.
func (b *Browser) Do(req *http.Request) (int, string) {
	b.t.Helper()
	resp, err := b.C.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// Get fetches u.
func (b *Browser) Get(u string) (int, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.Do(req)
}

// Post submits form to u.
func (b *Browser) Post(u string, form url.Values) (int, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.Do(req)
}

// StartSignIn follows a fresh AuthnRequest from sp to the IdP, as Flex
// redirects the browser, and returns the page shown (the login form, or a
// Response with a session) and the request ID.
func (b *Browser) StartSignIn(sp *crewjam.ServiceProvider) (page, reqID string) {
	b.t.Helper()
	redirect, reqID := AuthnRedirect(b.t, sp, "", nil)
	_, page = b.Get(redirect)
	return page, reqID
}

// SignIn signs the browser in from sp (SP-initiated, with the password)
// at the IdP at base, and returns the Response's assertion, which sp
// accepted.
func (b *Browser) SignIn(sp *crewjam.ServiceProvider, base, email, pw string) *crewjam.Assertion {
	b.t.Helper()
	page, reqID := b.StartSignIn(sp)
	status, body := b.Login(base, page, email, pw)
	WantStatus(b.t, "sign-in of "+email, status, http.StatusOK, body)
	return Accepts(b.t, sp, Form(b.t, body), reqID)
}

// Login submits the login form shown in body.
func (b *Browser) Login(base, body, email, pw string) (int, string) {
	b.t.Helper()
	f := HiddenFields(body)
	if f["csrf"] == "" {
		b.t.Fatalf("no login form in page:\n%s", body)
	}
	return b.Post(base+"/login", url.Values{"csrf": {f["csrf"]}, "state": {f["state"]}, "email": {email}, "password": {pw}})
}

var inputRE = regexp.MustCompile(`<input type="hidden" name="([A-Za-z]+)" value="([^"]*)">`)

// HiddenFields returns the hidden form fields of a page.
func HiddenFields(body string) map[string]string {
	m := map[string]string{}
	for _, s := range inputRE.FindAllStringSubmatch(body, -1) {
		m[s[1]] = html.UnescapeString(s[2])
	}
	return m
}

// Posted is the auto-POST form that carries a SAML Response.
type Posted struct {
	Action, RelayState string
	XML                []byte
}

var actionRE = regexp.MustCompile(`<form method="post" action="([^"]*)" id="saml-post">`)

// Form reads the auto-POST form in body.
func Form(t testing.TB, body string) Posted {
	t.Helper()
	m := actionRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no SAML POST form in page:\n%s", body)
	}
	f := HiddenFields(body)
	raw, err := base64.StdEncoding.DecodeString(f["SAMLResponse"])
	if err != nil {
		t.Fatalf("SAMLResponse is not base64: %v", err)
	}
	return Posted{Action: html.UnescapeString(m[1]), RelayState: f["RelayState"], XML: raw}
}

// FlexSP is crewjam's service provider playing Flex (Enhanced SSO), with
// the IdP's metadata fetched from base.
func FlexSP(t testing.TB, base string) *crewjam.ServiceProvider {
	t.Helper()
	resp, err := http.Get(base + "/saml/metadata")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var md crewjam.EntityDescriptor
	if err := xml.NewDecoder(resp.Body).Decode(&md); err != nil {
		t.Fatalf("parse IdP metadata: %v", err)
	}
	acs, _ := url.Parse(FlexACS)
	// Like Auth0's request template (which Flex uses), ask for no
	// particular NameID format.
	return &crewjam.ServiceProvider{EntityID: FlexAudience, AcsURL: *acs, IDPMetadata: &md,
		AuthnNameIDFormat: crewjam.UnspecifiedNameIDFormat}
}

// Accepts checks a posted Response as Flex would, with crewjam's SP: it
// must go to the SP's registered ACS URL and answer one of reqIDs (none:
// an unsolicited Response). It returns the assertion.
func Accepts(t testing.TB, sp *crewjam.ServiceProvider, form Posted, reqIDs ...string) *crewjam.Assertion {
	t.Helper()
	if form.Action != sp.AcsURL.String() {
		t.Fatalf("the Response is posted to %q, not the registered ACS %q", form.Action, sp.AcsURL.String())
	}
	assertion, err := sp.ParseXMLResponse(form.XML, reqIDs, sp.AcsURL)
	if err != nil {
		t.Fatalf("the SP refuses the Response: %v\n%s", err, form.XML)
	}
	return assertion
}

// AuthnRedirect builds an HTTP-Redirect AuthnRequest URL from sp, after
// edit (if any) changes the request; it returns the URL and the request ID.
func AuthnRedirect(t testing.TB, sp *crewjam.ServiceProvider, relay string, edit func(*crewjam.AuthnRequest)) (string, string) {
	t.Helper()
	req, err := sp.MakeAuthenticationRequest(sp.GetSSOBindingLocation(crewjam.HTTPRedirectBinding), crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(req)
	}
	u, err := req.Redirect(relay, sp)
	if err != nil {
		t.Fatal(err)
	}
	return u.String(), req.ID
}

// Values returns the assertion's attributes by name.
func Values(a *crewjam.Assertion) map[string][]string {
	m := map[string][]string{}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			for _, v := range at.Values {
				m[at.Name] = append(m[at.Name], v.Value)
			}
		}
	}
	return m
}

// DeflateB64 encodes s as the HTTP-Redirect binding carries a message.
func DeflateB64(s string) string {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// VerifyWithXmlsec checks both signatures (Response and Assertion) with
// xmlsec1, and that a tampered Audience breaks the Assertion's.
func VerifyWithXmlsec(t testing.TB, doc []byte, certPEM []byte) {
	t.Helper()
	xmlsec, err := exec.LookPath("xmlsec1")
	if err != nil {
		Require(t, "xmlsec1", "apt-get install xmlsec1")
	}
	dir := t.TempDir()
	docPath, certPath := filepath.Join(dir, "response.xml"), filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(docPath, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	verify := func(node string) ([]byte, error) {
		return exec.Command(xmlsec, "--verify", "--pubkey-cert-pem", certPath,
			"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response",
			"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
			"--node-xpath", node, docPath).CombinedOutput()
	}
	const respSig = "/*[local-name()='Response']/*[local-name()='Signature']"
	const assertSig = "/*[local-name()='Response']/*[local-name()='Assertion']/*[local-name()='Signature']"
	for _, node := range []string{respSig, assertSig} {
		if out, err := verify(node); err != nil || !bytes.Contains(out, []byte("OK")) {
			t.Fatalf("xmlsec1 does not verify %s: %v\n%s", node, err, out)
		}
	}
	// A tampered document must fail, or the check above proves nothing.
	tampered := bytes.Replace(doc, []byte(">urn:flex:"), []byte(">urn:flez:"), 1)
	if bytes.Equal(tampered, doc) {
		t.Fatal("test document has no Audience to tamper with")
	}
	if err := os.WriteFile(docPath, tampered, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := verify(assertSig); err == nil {
		t.Fatalf("xmlsec1 verified a tampered assertion:\n%s", out)
	}
	// The xs prefix of the xsi:type values, rebound, must break both
	// signatures: its declaration is signed (saml writer.go).
	if xs := []byte(`xmlns:xs="http://www.w3.org/2001/XMLSchema"`); bytes.Contains(doc, xs) {
		rebound := bytes.ReplaceAll(doc, xs, []byte(`xmlns:xs="urn:example:not-xml-schema"`))
		if err := os.WriteFile(docPath, rebound, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, node := range []string{respSig, assertSig} {
			if out, err := verify(node); err == nil {
				t.Fatalf("xmlsec1 verified %s with the xs prefix rebound:\n%s", node, out)
			}
		}
	}
}

// OneLoginResult is what python3-saml (OneLogin) read from a Response.
type OneLoginResult struct {
	NameID       string              `json:"nameid"`
	NameIDFormat string              `json:"nameid_format"`
	Attributes   map[string][]string `json:"attributes"`
	SessionIndex string              `json:"session_index"`
}

//go:embed onelogin_validate.py
var oneLoginScript []byte

// VerifyWithOneLogin validates the Response with python3-saml in strict
// mode (signed message and assertion required, SHA-1 refused, Destination,
// Recipient, Audience, InResponseTo and time conditions checked), as the
// Flex SP at acs, and checks that the same Response is refused as the
// answer to another request.
func VerifyWithOneLogin(t testing.TB, doc, certPEM []byte, idpEntityID, acs, requestID string) OneLoginResult {
	t.Helper()
	res, err := OneLogin(t, doc, certPEM, idpEntityID, acs, requestID)
	if err != nil {
		t.Fatalf("python3-saml (strict) refuses the Response: %v", err)
	}
	if res.NameID != "" && requestID != "" {
		if _, err := OneLogin(t, doc, certPEM, idpEntityID, acs, "id-some-other-request"); err == nil {
			t.Fatal("python3-saml accepted the Response for another request ID")
		}
	}
	return res
}

// OneLogin runs python3-saml on the Response and returns what it read, or
// its reason for refusing it.
func OneLogin(t testing.TB, doc, certPEM []byte, idpEntityID, acs, requestID string) (OneLoginResult, error) {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import onelogin.saml2").Run(); err != nil {
		Require(t, "python3-onelogin-saml2", "apt-get install python3-onelogin-saml2")
	}
	dir := t.TempDir()
	respPath, certPath, script := filepath.Join(dir, "response.b64"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "validate.py")
	for p, b := range map[string][]byte{respPath: []byte(base64.StdEncoding.EncodeToString(doc)), certPath: certPEM, script: oneLoginScript} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{script, respPath, certPath, idpEntityID, FlexAudience, acs}
	if requestID != "" {
		args = append(args, requestID)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(py, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return OneLoginResult{}, fmt.Errorf("%v: %s", err, stderr.String())
	}
	var res OneLoginResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("onelogin output: %v\n%s", err, out)
	}
	return res, nil
}

// MustContain fails the test unless body contains every one of subs.
func MustContain(t testing.TB, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Fatalf("page lacks %q:\n%s", s, body)
		}
	}
}

// WantStatus fails the test unless got is want; what names the step.
func WantStatus(t testing.TB, what string, got, want int, body string) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: status %d, want %d\n%s", what, got, want, body)
	}
}

// AuditTrail returns the audit events f selects, as "action:reason".
func AuditTrail(t testing.TB, st store.Store, f store.AuditFilter) []string {
	t.Helper()
	events, err := st.ListAudit(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		out = append(out, e.Action+":"+e.Reason)
	}
	return out
}

// SignRequests gives sp a new key and certificate to sign its
// AuthnRequests and LogoutRequests with (RSA-SHA256), and returns the
// certificate as PEM, as the SP's administrator would register it.
func SignRequests(t testing.TB, sp *crewjam.ServiceProvider) []byte {
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
	sp.Key, sp.SignatureMethod = key, dsig.RSASHA256SignatureMethod
	if sp.Certificate, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// SignInResult is the outcome of one of ConcurrentSignIns.
type SignInResult struct {
	Email  string
	Status int
	Body   string
}

// ConcurrentSignIns opens a login form (from a Flex AuthnRequest) for each
// of emails, spread over the IdPs at bases (replicas of one database),
// then submits them all at once with password pw.
func ConcurrentSignIns(t testing.TB, bases []string, emails []string, pw string) []SignInResult {
	t.Helper()
	type form struct {
		b          *Browser
		base, page string
	}
	forms := make([]form, len(emails))
	for i := range emails {
		base := bases[i%len(bases)]
		b := NewBrowser(t)
		page, _ := b.StartSignIn(FlexSP(t, base))
		forms[i] = form{b, base, page}
	}
	out := make([]SignInResult, len(emails))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, email := range emails {
		wg.Go(func() {
			<-start
			status, body := forms[i].b.Login(forms[i].base, forms[i].page, email, pw)
			out[i] = SignInResult{email, status, body}
		})
	}
	close(start)
	wg.Wait()
	return out
}

// GuessesLock sends guesses wrong passwords of email at once, spread over
// bases, to an IdP that locks an account after lockAfter failures, and
// checks that none slips past the threshold: exactly lockAfter are checked
// (401), the others refused (429), and then the right password pw is
// refused as well (the account is locked).
func GuessesLock(t testing.TB, bases []string, email, pw string, guesses, lockAfter int) {
	t.Helper()
	emails := make([]string, guesses)
	for i := range emails {
		emails[i] = email
	}
	count := map[int]int{}
	for _, r := range ConcurrentSignIns(t, bases, emails, "wrong password") {
		count[r.Status]++
		if r.Status != http.StatusUnauthorized && r.Status != http.StatusTooManyRequests {
			t.Errorf("guess: status %d, want 401 or 429\n%s", r.Status, r.Body)
		}
	}
	if count[http.StatusUnauthorized] != lockAfter || count[http.StatusTooManyRequests] != guesses-lockAfter {
		t.Fatalf("%d concurrent guesses: %d checked (401), %d refused (429); want %d checked",
			guesses, count[http.StatusUnauthorized], count[http.StatusTooManyRequests], lockAfter)
	}
	r := ConcurrentSignIns(t, bases, []string{email}, pw)[0]
	WantStatus(t, "the right password after the guesses", r.Status, http.StatusTooManyRequests, r.Body)
	MustContain(t, r.Body, "Too many failed sign-ins")
}
