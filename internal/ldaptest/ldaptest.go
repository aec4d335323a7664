// Package ldaptest starts a throwaway OpenLDAP server (Debian's slapd) for
// tests, loaded with a small Active-Directory-like tree: users with
// sAMAccountName, userPrincipalName, mail and userAccountControl, nested
// groups, a disabled user, a user outside the users' base, and a service
// account. It listens on ldap:// (StartTLS offered) and ldaps:// with a
// certificate from a test CA generated for each server.
//
// Without slapd the test is skipped, except under CI=true, where it fails
// (samltest.Require): a directory check that cannot run must not pass.
package ldaptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/flexidp/flexidp/internal/samltest"
)

// The tree every server is loaded with.
const (
	BaseDN     = "dc=acme,dc=test"
	UsersDN    = "ou=staff," + BaseDN
	GroupsDN   = "ou=groups," + BaseDN
	ServiceDN  = "cn=flexidp,ou=service," + BaseDN
	ServicePW  = "service-secret"
	RootDN     = "cn=root," + BaseDN // the directory's administrator
	RootPW     = "root-secret"
	AliceDN    = "cn=Alice Agent," + UsersDN // in agents (hence floor-staff, via loop-a and loop-b)
	AlicePW    = "alice-secret"
	SamDN      = "cn=Sam Supervisor," + UsersDN // team-leads ⊂ supervisors ⊂ floor-staff
	SamPW      = "sam-secret"
	BobDN      = "cn=Bob Leaver," + UsersDN // disabled: userAccountControl 514
	BobPW      = "bob-secret"
	CarlDN     = "cn=Carl Contractor,ou=contractors," + BaseDN // outside UsersDN
	CarlPW     = "carl-secret"
	AgentsDN   = "cn=agents," + GroupsDN
	LeadsDN    = "cn=team-leads," + GroupsDN
	SupersDN   = "cn=supervisors," + GroupsDN
	FloorDN    = "cn=floor-staff," + GroupsDN
	LoopADN    = "cn=loop-a," + GroupsDN
	LoopBDN    = "cn=loop-b," + GroupsDN
	DisabledAD = "(userAccountControl:1.2.840.113556.1.4.803:=2)"
)

// schema gives OpenLDAP the AD attributes the tree uses, with the
// matching rules AD has (msuser.schema declares none, so no filter on
// them would match). The OIDs are under a private test arc.
const schema = `
attributetype ( 1.3.6.1.4.1.99999.16.1.1 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.16.1.2 NAME 'userPrincipalName' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.16.1.3 NAME 'userAccountControl' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.16.1.4 NAME 'memberOf' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )
objectclass ( 1.3.6.1.4.1.99999.16.2.1 NAME 'adUser' SUP top AUXILIARY MAY ( sAMAccountName $ userPrincipalName $ userAccountControl $ memberOf ) )
`

const conf = `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include {{dir}}/ad.schema
pidfile {{dir}}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCACertificateFile {{dir}}/ca.pem
TLSCertificateFile {{dir}}/server.pem
TLSCertificateKeyFile {{dir}}/server.key
database mdb
suffix "` + BaseDN + `"
rootdn "` + RootDN + `"
rootpw ` + RootPW + `
directory {{dir}}/data
maxsize 16777216
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
`

func user(dn, sam, mail, given, sn, pw string, uac int, memberOf ...string) string {
	cn := strings.TrimPrefix(strings.SplitN(dn, ",", 2)[0], "cn=")
	var b strings.Builder
	fmt.Fprintf(&b, "dn: %s\nobjectClass: inetOrgPerson\nobjectClass: adUser\ncn: %s\nsn: %s\ngivenName: %s\ndisplayName: %s\n", dn, cn, sn, given, cn)
	fmt.Fprintf(&b, "sAMAccountName: %s\nuserPrincipalName: %s\nmail: %s\nuserPassword: %s\nuserAccountControl: %d\n", sam, mail, mail, pw, uac)
	for _, g := range memberOf {
		fmt.Fprintf(&b, "memberOf: %s\n", g)
	}
	return b.String() + "\n"
}

func group(dn string, members ...string) string {
	cn := strings.TrimPrefix(strings.SplitN(dn, ",", 2)[0], "cn=")
	var b strings.Builder
	fmt.Fprintf(&b, "dn: %s\nobjectClass: groupOfNames\ncn: %s\n", dn, cn)
	for _, m := range members {
		fmt.Fprintf(&b, "member: %s\n", m)
	}
	return b.String() + "\n"
}

func tree() string {
	ou := func(name string) string {
		return fmt.Sprintf("dn: ou=%s,%s\nobjectClass: organizationalUnit\nou: %s\n\n", name, BaseDN, name)
	}
	return "dn: " + BaseDN + "\nobjectClass: dcObject\nobjectClass: organization\ndc: acme\no: Acme\n\n" +
		ou("staff") + ou("contractors") + ou("groups") + ou("service") +
		"dn: " + ServiceDN + "\nobjectClass: person\ncn: flexidp\nsn: service\nuserPassword: " + ServicePW + "\n\n" +
		user(AliceDN, "alice", "alice@acme.test", "Alice", "Agent", AlicePW, 512, AgentsDN) +
		user(SamDN, "sam", "sam@acme.test", "Sam", "Supervisor", SamPW, 512, LeadsDN) +
		user(BobDN, "bob", "bob@acme.test", "Bob", "Leaver", BobPW, 514, AgentsDN) +
		user(CarlDN, "carl", "carl@acme.test", "Carl", "Contractor", CarlPW, 512) +
		group(AgentsDN, AliceDN, BobDN) +
		group(LeadsDN, SamDN) +
		group(SupersDN, LeadsDN) +
		group(FloorDN, AgentsDN, SupersDN) +
		group(LoopADN, LoopBDN, AgentsDN) +
		group(LoopBDN, LoopADN)
}

// Server is a running slapd.
type Server struct {
	// URL is ldap://127.0.0.1:port (StartTLS offered); LDAPS is
	// ldaps://127.0.0.1:port.
	URL, LDAPS string
	// CAPEM is the certificate of the CA that issued the server's
	// certificate (for 127.0.0.1 and localhost).
	CAPEM []byte
	// Dir holds the configuration, the data and slapd.log.
	Dir string
}

// Dial connects to the server over ldaps://, trusting its CA only; the
// connection is not bound.
func (s *Server) Dial(t testing.TB) *ldap.Conn {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CAPEM)
	c, err := ldap.DialURL(s.LDAPS, ldap.DialWithTLSConfig(&tls.Config{RootCAs: pool}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Replace sets attr of the entry dn to values, as the directory's
// administrator (a leaver disabled, a name changed).
func (s *Server) Replace(t testing.TB, dn, attr string, values ...string) {
	t.Helper()
	c := s.Dial(t)
	defer c.Close()
	if err := c.Bind(RootDN, RootPW); err != nil {
		t.Fatal(err)
	}
	m := ldap.NewModifyRequest(dn, nil)
	m.Replace(attr, values)
	if err := c.Modify(m); err != nil {
		t.Fatalf("ldaptest: replace %s of %s: %v", attr, dn, err)
	}
}

// Delete removes the entry dn, as the directory's administrator (a
// leaver deleted).
func (s *Server) Delete(t testing.TB, dn string) {
	t.Helper()
	c := s.Dial(t)
	defer c.Close()
	if err := c.Bind(RootDN, RootPW); err != nil {
		t.Fatal(err)
	}
	if err := c.Del(ldap.NewDelRequest(dn, nil)); err != nil {
		t.Fatalf("ldaptest: delete %s: %v", dn, err)
	}
}

// Binary returns the path of slapd, or "" when it is not installed.
func Binary() string {
	if p, err := exec.LookPath("slapd"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/slapd"); err == nil {
		return "/usr/sbin/slapd"
	}
	return ""
}

// Start starts a server for the duration of t.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		samltest.Require(t, "slapd", "apt-get install -y --no-install-recommends slapd ldap-utils")
	}
	dir := t.TempDir()
	ca, err := writeFiles(dir)
	if err != nil {
		t.Fatalf("ldaptest: %v", err)
	}
	add := exec.Command(filepath.Join(filepath.Dir(bin), "slapadd"), "-f", filepath.Join(dir, "slapd.conf"), "-l", filepath.Join(dir, "tree.ldif"))
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ldaptest: slapadd: %v\n%s", err, out)
	}
	var lastErr error
	for range 5 { // a free port can be taken between choosing and binding it
		s, err := start(bin, dir, ca)
		if err == nil {
			t.Cleanup(s.stop)
			return s.Server
		}
		lastErr = err
	}
	t.Fatalf("ldaptest: %v", lastErr)
	return nil
}

type running struct {
	*Server
	cmd  *exec.Cmd
	done chan error
}

func start(bin, dir string, ca []byte) (*running, error) {
	p1, p2, err := freePorts()
	if err != nil {
		return nil, err
	}
	s := &running{Server: &Server{URL: fmt.Sprintf("ldap://127.0.0.1:%d", p1), LDAPS: fmt.Sprintf("ldaps://127.0.0.1:%d", p2), CAPEM: ca, Dir: dir},
		done: make(chan error, 1)}
	logf, err := os.OpenFile(filepath.Join(dir, "slapd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	// -d 0: stay in the foreground (no fork), so the test owns the process.
	s.cmd = exec.Command(bin, "-d", "0", "-f", filepath.Join(dir, "slapd.conf"), "-h", s.URL+"/ "+s.LDAPS+"/")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	started := make(chan error)
	go func() {
		// Pdeathsig fires when the starting thread exits: keep it for as
		// long as the server runs.
		runtime.LockOSThread()
		if err := s.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.done <- s.cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start slapd: %w", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for delay := 5 * time.Millisecond; ; delay = min(2*delay, 200*time.Millisecond) {
		select {
		case err := <-s.done:
			log, _ := os.ReadFile(filepath.Join(dir, "slapd.log"))
			return nil, fmt.Errorf("slapd exited (%v):\n%s", err, log)
		default:
		}
		if reachable(p1) && reachable(p2) {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("slapd did not listen on %s within 20s", s.URL)
		}
		time.Sleep(delay) // polling for the listener, not synchronising on time
	}
}

func reachable(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func (s *running) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func freePorts() (int, int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports[0], ports[1], nil
}

// writeFiles writes the configuration, the schema, the tree and a new CA
// and server certificate into dir, and returns the CA certificate (PEM).
func writeFiles(dir string) ([]byte, error) {
	caPEM, certPEM, keyPEM, err := NewCA([]string{"127.0.0.1", "localhost"})
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"slapd.conf": []byte(strings.ReplaceAll(conf, "{{dir}}", dir)),
		"ad.schema":  []byte(schema),
		"tree.ldif":  []byte(tree()),
		"ca.pem":     caPEM,
		"server.pem": certPEM,
		"server.key": keyPEM,
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return nil, err
		}
	}
	return caPEM, nil
}

// NewCA returns a new CA certificate and a server certificate it issued
// for hosts (IP addresses or names), with the server's key; all PEM.
func NewCA(hosts []string) (caPEM, certPEM, keyPEM []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ldaptest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: hosts[0]},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	enc := func(typ string, b []byte) []byte {
		var buf bytes.Buffer
		_ = pem.Encode(&buf, &pem.Block{Type: typ, Bytes: b})
		return buf.Bytes()
	}
	return enc("CERTIFICATE", caDER), enc("CERTIFICATE", der), enc("PRIVATE KEY", p8), nil
}
