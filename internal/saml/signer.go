package saml

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"runtime"
	"sync"
)

// signRSA signs digest (SHA-256) with key, as key.Sign does, on one of a
// few long-lived goroutines rather than the request's own.
//
// An RSA-2048 signature needs a deep stack (bigmod's exponentiation
// keeps its window table there). A request's goroutine starts small, and
// the garbage collector halves the stack of every goroutine that uses
// little of it when it looks, so each Response's goroutine grew its stack
// again, copying it, on its way to the signatures: about 1 % of an SSO's
// CPU (profiles, docs/performance.md). The signing goroutines keep
// theirs: they grow it again at most once per collection, not once per
// Response. They are as many as the machine's CPUs, so signing is never
// held to fewer cores than the server has; the hand-over costs two
// goroutine switches, nothing next to the signature.
func signRSA(key *rsa.PrivateKey, digest []byte) ([]byte, error) {
	signers.start()
	j := jobs.Get().(*signJob)
	j.key, j.digest = key, digest
	signers.jobs <- j
	<-j.done
	sig, err := j.sig, j.err
	*j = signJob{done: j.done}
	jobs.Put(j)
	return sig, err
}

// signJob is one signature for the signing goroutines.
type signJob struct {
	key    *rsa.PrivateKey
	digest []byte
	sig    []byte
	err    error
	done   chan struct{}
}

var jobs = sync.Pool{New: func() any { return &signJob{done: make(chan struct{}, 1)} }}

// signers are the signing goroutines, started on the first signature.
var signers signerPool

type signerPool struct {
	once sync.Once
	jobs chan *signJob
}

func (p *signerPool) start() {
	p.once.Do(func() {
		p.jobs = make(chan *signJob)
		for range runtime.NumCPU() {
			go p.run()
		}
	})
}

// run signs the jobs it receives, for ever.
func (p *signerPool) run() {
	for j := range p.jobs {
		j.sig, j.err = sign(j.key, j.digest)
		j.done <- struct{}{}
	}
}

// sign is key.Sign; a panic in it is the job's error, not the end of the
// signing goroutine (and of the process).
func sign(key *rsa.PrivateKey, digest []byte) (sig []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sign: %v", r)
		}
	}()
	return key.Sign(rand.Reader, digest, crypto.SHA256)
}
