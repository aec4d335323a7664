package samltest

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

//go:embed onelogin_error.py
var oneLoginErrorScript []byte

// ErrorStatus is the status python3-saml read from an error Response.
type ErrorStatus struct {
	Code    string `json:"code"`
	Second  string `json:"second"`
	Message string `json:"message"`
}

// VerifyErrorResponse checks a signed SAML error Response (no Assertion)
// with two verifiers flexidp did not write: xmlsec1 verifies the
// Response's signature (and refuses it once the StatusCode is tampered
// with), and python3-saml validates it against the SAML protocol schema
// and verifies the signature its own way. It returns the status
// python3-saml read.
func VerifyErrorResponse(t testing.TB, doc, certPEM []byte) ErrorStatus {
	t.Helper()
	xmlsec, err := exec.LookPath("xmlsec1")
	if err != nil {
		Require(t, "xmlsec1", "apt-get install xmlsec1")
	}
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import onelogin.saml2").Run(); err != nil {
		Require(t, "python3-onelogin-saml2", "apt-get install python3-onelogin-saml2")
	}
	dir := t.TempDir()
	docPath, certPath, b64Path, script := filepath.Join(dir, "response.xml"), filepath.Join(dir, "cert.pem"),
		filepath.Join(dir, "response.b64"), filepath.Join(dir, "error.py")
	for p, b := range map[string][]byte{docPath: doc, certPath: certPEM, script: oneLoginErrorScript,
		b64Path: []byte(base64.StdEncoding.EncodeToString(doc))} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	verify := func() ([]byte, error) {
		return exec.Command(xmlsec, "--verify", "--pubkey-cert-pem", certPath,
			"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response",
			"--node-xpath", "/*[local-name()='Response']/*[local-name()='Signature']", docPath).CombinedOutput()
	}
	if out, err := verify(); err != nil || !bytes.Contains(out, []byte("OK")) {
		t.Fatalf("xmlsec1 does not verify the error Response: %v\n%s", err, out)
	}
	tampered := bytes.Replace(doc, []byte(`:status:`), []byte(`:statu5:`), 1)
	if bytes.Equal(tampered, doc) {
		t.Fatal("test document has no StatusCode to tamper with")
	}
	if err := os.WriteFile(docPath, tampered, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := verify(); err == nil {
		t.Fatalf("xmlsec1 verified a tampered error Response:\n%s", out)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(py, script, b64Path, certPath)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3-saml refuses the error Response: %v: %s", err, stderr.String())
	}
	var st ErrorStatus
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("onelogin output: %v\n%s", err, out)
	}
	return st
}
