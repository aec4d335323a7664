package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"time"

	crewjam "github.com/crewjam/saml"
	"github.com/crewjam/saml/logger"
	"github.com/crewjam/saml/samlidp"
	dsig "github.com/russellhaering/goxmldsig"
	"golang.org/x/crypto/bcrypt"

	"github.com/flexidp/flexidp/internal/keys"
)

// The peer is crewjam's own IdP, samlidp, run by this same binary as a
// child process (peerEnv set) on the server's CPUs, configured as Flex
// needs: RSA-SHA256, the Response and the Assertion signed, and the
// attributes Flex reads (email, full_name, roles, team). It keeps its
// users and sessions in memory and writes no replay record and no audit:
// the reference for what the XML and the signatures cost in Go.
const peerEnv = "FLEXIDP_BENCH_PEER_LISTEN"

// peerMain runs the peer when this process was started as one; it does
// not return then.
func peerMain() {
	addr := os.Getenv(peerEnv)
	if addr == "" {
		return
	}
	users, _ := strconv.Atoi(os.Getenv("FLEXIDP_BENCH_PEER_USERS"))
	if err := runPeer(addr, users); err != nil {
		log.Fatalf("peer: %v", err)
	}
	os.Exit(0)
}

func runPeer(addr string, nUsers int) error {
	base, _ := url.Parse("http://" + addr)
	h, err := newPeer(*base, nUsers)
	if err != nil {
		return err
	}
	log.SetOutput(os.Stderr)
	return http.ListenAndServe(addr, h)
}

// newPeer is the peer's handler at base, with nUsers agents.
func newPeer(base url.URL, nUsers int) (http.Handler, error) {
	key, err := rsa.GenerateKey(rand.Reader, keys.DefaultBits)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "samlidp peer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	st := &samlidp.MemoryStore{}
	acs, _ := url.Parse(flexACS)
	md := crewjam.EntityDescriptor{EntityID: "urn:flex:" + acs.Query().Get("connection"),
		SPSSODescriptors: []crewjam.SPSSODescriptor{{
			SSODescriptor: crewjam.SSODescriptor{RoleDescriptor: crewjam.RoleDescriptor{
				ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol"}},
			AssertionConsumerServices: []crewjam.IndexedEndpoint{{Binding: crewjam.HTTPPostBinding, Location: flexACS, Index: 1}},
		}}}
	if err := st.Put("/services/flex", &samlidp.Service{Name: "flex", Metadata: md}); err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(benchPass), bcrypt.MinCost)
	if err != nil {
		return nil, err
	}
	for n := range nUsers {
		email := fmt.Sprintf(emailPattern, n)
		if err := st.Put("/users/"+email, samlidp.User{Name: email, Email: email, HashedPassword: hash,
			CommonName: fmt.Sprintf("Agent %d", n), Groups: []string{"agent"}}); err != nil {
			return nil, err
		}
	}
	srv, err := samlidp.New(samlidp.Options{URL: base, Key: key, Certificate: cert, Store: st,
		Logger: logger.DefaultLogger})
	if err != nil {
		return nil, err
	}
	srv.IDP.SignatureMethod = dsig.RSASHA256SignatureMethod
	srv.IDP.AssertionMaker = flexAssertions{}
	mux := http.NewServeMux()
	mux.Handle("/", srv)
	mux.HandleFunc("/bench/memstats", func(w http.ResponseWriter, _ *http.Request) {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		_ = json.NewEncoder(w).Encode(struct{ Mallocs, TotalAlloc uint64 }{m.Mallocs, m.TotalAlloc})
	})
	return mux, nil
}

// flexAssertions is crewjam's assertion plus the attributes Flex reads,
// with the values flexidp releases for a bench agent.
type flexAssertions struct{}

func (flexAssertions) MakeAssertion(req *crewjam.IdpAuthnRequest, session *crewjam.Session) error {
	if err := (crewjam.DefaultAssertionMaker{}).MakeAssertion(req, session); err != nil {
		return err
	}
	attr := func(name string, values ...string) crewjam.Attribute {
		a := crewjam.Attribute{Name: name, NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"}
		for _, v := range values {
			a.Values = append(a.Values, crewjam.AttributeValue{Type: "xs:string", Value: v})
		}
		return a
	}
	flex := []crewjam.Attribute{attr("email", session.UserEmail), attr("full_name", session.UserCommonName),
		attr("roles", session.Groups...), attr("team", "Bench")}
	if len(req.Assertion.AttributeStatements) == 0 {
		req.Assertion.AttributeStatements = []crewjam.AttributeStatement{{}}
	}
	st := &req.Assertion.AttributeStatements[0]
	st.Attributes = append(st.Attributes, flex...)
	return nil
}

// peerProc is the peer running as a child process.
type peerProc struct {
	base string
	cmd  *exec.Cmd
	done chan struct{}
}

// startPeer runs the peer on a free loopback port, pinned like the
// server, and waits until it answers.
func startPeer(ctx context.Context, o options, cpu cpuPlan, nUsers int, logPath string) (*peerProc, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	p := &peerProc{base: "http://" + addr, done: make(chan struct{})}
	p.cmd = exec.Command(self)
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "GOMAXPROCS=" + strconv.Itoa(o.cpus),
		peerEnv + "=" + addr, "FLEXIDP_BENCH_PEER_USERS=" + strconv.Itoa(nUsers)}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := make(chan error)
	go func() {
		runtime.LockOSThread()
		err := cpu.onServerCPUs(p.cmd.Start)
		started <- err
		if err != nil {
			return
		}
		_ = p.cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start the peer: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.base + "/metadata")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("the peer exited during start-up; log %s:\n%s", logPath, tail(logPath))
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("the peer did not answer within 30s; log %s", logPath)
		}
	}
}

func (p *peerProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// peerTarget is the peer as the load sees it: its login form posts user
// and password back to /sso with the SAMLRequest.
func peerTarget(base string, pid int) *target {
	return &target{name: "crewjam samlidp", base: base, metadata: base + "/metadata", pid: pid,
		memStats: jsonMemStats(base + "/bench/memstats"),
		login: func(l *load, a *agent, body string) (int, string, error) {
			f := hiddenFields(body)
			return a.post(l.ctx, l.t.base+"/sso", url.Values{"user": {a.email}, "password": {benchPass},
				"SAMLRequest": {f["SAMLRequest"]}, "RelayState": {f["RelayState"]}})
		}}
}
