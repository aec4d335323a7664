package saml

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"runtime"
	"sync"
	"testing"
)

var signerKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// TestSignRSA: signatures made by the signing goroutines verify, for
// many callers at once (run with -race), each its own digest.
func TestSignRSA(t *testing.T) {
	key := signerKey()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := sha256.Sum256([]byte(fmt.Sprint("message ", i)))
			sig, err := signRSA(key, d[:])
			if err != nil {
				t.Error(err)
				return
			}
			if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, d[:], sig); err != nil {
				t.Errorf("signature %d does not verify: %v", i, err)
			}
		}()
	}
	wg.Wait()
}

// TestSignRSAPanic: a signer that panics is the caller's error, and the
// signing goroutines go on signing.
func TestSignRSAPanic(t *testing.T) {
	d := sha256.Sum256([]byte("message"))
	broken := &rsa.PrivateKey{} // no modulus: Sign panics or fails
	for range runtime.NumCPU() + 1 {
		if _, err := signRSA(broken, d[:]); err == nil {
			t.Fatal("a key without a modulus signed")
		}
	}
	if _, err := signRSA(signerKey(), d[:]); err != nil {
		t.Errorf("after the broken key: %v", err)
	}
}

// TestSignRSAKeepsCallersStacksSmall: the callers' goroutines do not grow
// their stacks to sign (the signing goroutines do, once): 64 goroutines
// that each sign once, then wait, hold about what 64 fresh goroutines do.
func TestSignRSAKeepsCallersStacksSmall(t *testing.T) {
	key := signerKey()
	d := sha256.Sum256([]byte("message"))
	if _, err := signRSA(key, d[:]); err != nil { // the signing goroutines have grown
		t.Fatal(err)
	}
	// Read without a collection in between: a collection halves the
	// stacks of waiting goroutines.
	stacks := func() uint64 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.StackInuse
	}
	const n = 64
	before := stacks()
	var signed, release sync.WaitGroup
	release.Add(1)
	for range n {
		signed.Add(1)
		go func() {
			_, err := signRSA(key, d[:])
			if err != nil {
				t.Error(err)
			}
			signed.Done()
			release.Wait()
		}()
	}
	signed.Wait()
	grown := stacks() - before
	release.Done()
	t.Logf("%d KiB of stack per caller", grown/n>>10)
	if per := grown / n; per > 8<<10 {
		t.Errorf("each caller's goroutine holds %d KiB of stack after signing, want at most 8 KiB (the signature grew it)", per>>10)
	}
}
