package main

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"net"
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

	"github.com/flexidp/flexidp/internal/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	flexConn = "JQ0123456789abcdef0123456789abcdef"
	flexACS  = "https://login.flex.us1.twilio.com/login/callback?connection=" + flexConn
	password = "correct horse battery"
)

// testEnv runs the idp command in-process with captured output.
type testEnv struct {
	t      *testing.T
	dbURL  string
	getenv map[string]string
}

func (e *testEnv) env(stdin string) (*environment, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &environment{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb,
		getenv: func(k string) string { return e.getenv[k] }}, &out, &errb
}

// cli runs an idp command against the test database and fails the test
// unless it exits with want.
func (e *testEnv) cliWant(want int, stdin string, args ...string) string {
	e.t.Helper()
	env, out, errb := e.env(stdin)
	if code := run(context.Background(), env, args); code != want {
		e.t.Fatalf("idp %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errb)
	}
	return out.String() + errb.String()
}

func (e *testEnv) cli(stdin string, args ...string) string {
	e.t.Helper()
	return e.cliWant(0, stdin, args...)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serveProc is an `idp serve` running in-process.
type serveProc struct {
	base string // http://ADDR it listens on
	mu   *sync.Mutex
	logb *bytes.Buffer
	done chan int
	// stop cancels the server's context, as SIGTERM does.
	stop context.CancelFunc
}

// logs returns what the server has logged so far.
func (p *serveProc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logb.String()
}

// startServe runs `idp serve` on loopback and returns its base URL once it
// is ready; the server is stopped (SIGTERM path: context cancelled) when
// the test ends.
func (e *testEnv) startServe(extra ...string) string {
	e.t.Helper()
	p := e.launchServe(extra...)
	e.waitReady(p)
	return p.base
}

// launchServe starts `idp serve` without waiting for it, so that several
// can start at the same moment. Flags in extra override the defaults.
func (e *testEnv) launchServe(extra ...string) *serveProc {
	e.t.Helper()
	addr := freeAddr(e.t)
	p := &serveProc{base: "http://" + addr, mu: new(sync.Mutex), logb: new(bytes.Buffer), done: make(chan int, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	env, _, _ := e.env("")
	env.stderr = lockedWriter{p.mu, p.logb}
	args := append([]string{"serve", "--listen", addr, "--base-url", p.base, "--log-format", "json", "--hash-memory", "64",
		// Sign-in time padding is tested in internal/users; here it would
		// only slow every sign-in down.
		"--signin-time-floor", "0"}, extra...)
	go func() { p.done <- run(ctx, env, args) }()
	e.t.Cleanup(func() {
		cancel()
		select {
		case code := <-p.done:
			if code != 0 {
				e.t.Errorf("idp serve exited %d: %s", code, p.logs())
			}
		case <-time.After(30 * time.Second):
			e.t.Error("idp serve did not shut down")
		}
	})
	return p
}

// waitReady waits until p answers /readyz with 200.
func (e *testEnv) waitReady(p *serveProc) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case code := <-p.done:
			p.done <- code // for the cleanup
			e.t.Fatalf("idp serve exited %d: %s", code, p.logs())
		default:
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("idp serve did not become ready: %s", p.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// browser is a cookie-keeping HTTP client, like the agent's browser.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

func (b *browser) do(req *http.Request) (int, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (b *browser) get(u string) (int, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) (int, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var inputRE = regexp.MustCompile(`<input type="hidden" name="([A-Za-z]+)" value="([^"]*)">`)

func hiddenFields(body string) map[string]string {
	m := map[string]string{}
	for _, s := range inputRE.FindAllStringSubmatch(body, -1) {
		m[s[1]] = html.UnescapeString(s[2])
	}
	return m
}

// startSignIn follows a fresh AuthnRequest from sp to the IdP, as Flex
// redirects the browser, and returns the page shown (the login form, or a
// Response with a session) and the request ID.
func (b *browser) startSignIn(sp *crewjam.ServiceProvider) (page, reqID string) {
	b.t.Helper()
	redirect, reqID := authnRedirect(b.t, sp, "", nil)
	_, page = b.get(redirect)
	return page, reqID
}

// login submits the login form shown in body.
func (b *browser) login(base, body, email, pw string) (int, string) {
	b.t.Helper()
	f := hiddenFields(body)
	if f["csrf"] == "" {
		b.t.Fatalf("no login form in page:\n%s", body)
	}
	return b.post(base+"/login", url.Values{"csrf": {f["csrf"]}, "state": {f["state"]}, "email": {email}, "password": {pw}})
}

// postedForm is the auto-POST form carrying a SAML Response.
type postedForm struct {
	action, relayState string
	xml                []byte
}

var actionRE = regexp.MustCompile(`<form method="post" action="([^"]*)" id="saml-post">`)

func samlForm(t *testing.T, body string) postedForm {
	t.Helper()
	m := actionRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no SAML POST form in page:\n%s", body)
	}
	f := hiddenFields(body)
	raw, err := base64.StdEncoding.DecodeString(f["SAMLResponse"])
	if err != nil {
		t.Fatalf("SAMLResponse is not base64: %v", err)
	}
	return postedForm{action: html.UnescapeString(m[1]), relayState: f["RelayState"], xml: raw}
}

// flexTestSP is crewjam's service provider playing Flex (Enhanced SSO).
func flexTestSP(t *testing.T, base string) *crewjam.ServiceProvider {
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
	acs, _ := url.Parse(flexACS)
	// Like Auth0's request template (which Flex uses), ask for no
	// particular NameID format.
	return &crewjam.ServiceProvider{EntityID: "urn:flex:" + flexConn, AcsURL: *acs, IDPMetadata: &md,
		AuthnNameIDFormat: crewjam.UnspecifiedNameIDFormat}
}

// flexAccepts checks a posted Response as Flex would, with crewjam's SP:
// it must go to the SP's registered ACS URL and answer one of reqIDs (none:
// an unsolicited Response). It returns the assertion.
func flexAccepts(t *testing.T, sp *crewjam.ServiceProvider, form postedForm, reqIDs ...string) *crewjam.Assertion {
	t.Helper()
	if form.action != sp.AcsURL.String() {
		t.Fatalf("the Response is posted to %q, not the registered ACS %q", form.action, sp.AcsURL.String())
	}
	assertion, err := sp.ParseXMLResponse(form.xml, reqIDs, sp.AcsURL)
	if err != nil {
		t.Fatalf("the SP refuses the Response: %v\n%s", err, form.xml)
	}
	return assertion
}

// authnRedirect builds an HTTP-Redirect AuthnRequest URL; it returns the
// URL and the request ID.
func authnRedirect(t *testing.T, sp *crewjam.ServiceProvider, relay string, edit func(*crewjam.AuthnRequest)) (string, string) {
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

// verifyWithXmlsec checks both signatures (Response and Assertion) with
// xmlsec1, an implementation we did not write.
func verifyWithXmlsec(t *testing.T, doc []byte, certPEM []byte) {
	t.Helper()
	xmlsec, err := exec.LookPath("xmlsec1")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("xmlsec1 is required under CI")
		}
		t.Log("xmlsec1 not installed: signature check with xmlsec1 skipped")
		return
	}
	dir := t.TempDir()
	docPath, certPath := filepath.Join(dir, "response.xml"), filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(docPath, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, node := range []string{
		"/*[local-name()='Response']/*[local-name()='Signature']",
		"/*[local-name()='Response']/*[local-name()='Assertion']/*[local-name()='Signature']",
	} {
		out, err := exec.Command(xmlsec, "--verify", "--pubkey-cert-pem", certPath,
			"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response",
			"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
			"--node-xpath", node, docPath).CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("OK")) {
			t.Fatalf("xmlsec1 does not verify %s: %v\n%s", node, err, out)
		}
	}
	// And a tampered document must fail, or the check above proves nothing.
	tampered := bytes.Replace(doc, []byte(">urn:flex:"), []byte(">urn:flez:"), 1)
	if bytes.Equal(tampered, doc) {
		t.Fatal("test document has no Audience to tamper with")
	}
	if err := os.WriteFile(docPath, tampered, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(xmlsec, "--verify", "--pubkey-cert-pem", certPath,
		"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response",
		"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
		"--node-xpath", "/*[local-name()='Response']/*[local-name()='Assertion']/*[local-name()='Signature']", docPath).CombinedOutput()
	if err == nil {
		t.Fatalf("xmlsec1 verified a tampered assertion:\n%s", out)
	}
}

func getBody(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

func attrValues(a *crewjam.Assertion) map[string][]string {
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

func deflateB64(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func mustContain(t *testing.T, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Fatalf("page lacks %q:\n%s", s, body)
		}
	}
}

// oneLoginResult is what the python3-saml (OneLogin) SP extracted.
type oneLoginResult struct {
	NameID       string              `json:"nameid"`
	NameIDFormat string              `json:"nameid_format"`
	Attributes   map[string][]string `json:"attributes"`
	SessionIndex string              `json:"session_index"`
}

// verifyWithOneLogin validates the Response with python3-saml in strict
// mode (signed message and assertion required, SHA-1 refused, Destination,
// Recipient, Audience, InResponseTo and time conditions checked): a second
// strict SP implementation besides crewjam's.
func verifyWithOneLogin(t *testing.T, doc, certPEM []byte, idpEntityID, acs, requestID string) oneLoginResult {
	t.Helper()
	res, err := oneLogin(t, doc, certPEM, idpEntityID, acs, requestID)
	if err != nil {
		t.Fatalf("python3-saml (strict) refuses the Response: %v", err)
	}
	// The same Response answering another request must be refused, or the
	// check above proves nothing.
	if res.NameID != "" && requestID != "" {
		if _, err := oneLogin(t, doc, certPEM, idpEntityID, acs, "id-some-other-request"); err == nil {
			t.Fatal("python3-saml accepted the Response for another request ID")
		}
	}
	return res
}

func oneLogin(t *testing.T, doc, certPEM []byte, idpEntityID, acs, requestID string) (oneLoginResult, error) {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import onelogin.saml2").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3-onelogin-saml2 is required under CI")
		}
		t.Log("python3-onelogin-saml2 not installed: strict OneLogin check skipped")
		return oneLoginResult{}, nil
	}
	dir := t.TempDir()
	respPath, certPath := filepath.Join(dir, "response.b64"), filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(respPath, []byte(base64.StdEncoding.EncodeToString(doc)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"testdata/onelogin_validate.py", respPath, certPath, idpEntityID, "urn:flex:" + flexConn, acs}
	if requestID != "" {
		args = append(args, requestID)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(py, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return oneLoginResult{}, fmt.Errorf("%v: %s", err, stderr.String())
	}
	var res oneLoginResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("onelogin output: %v\n%s", err, out)
	}
	return res, nil
}
