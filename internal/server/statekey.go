package server

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"

	"github.com/flexidp/flexidp/internal/saml"
)

// stateKeys derives the login-state MAC key from the signing key, which
// every replica shares, so no extra secret needs distributing. It keeps
// the key of the current key set and of the one before, so that a login
// form issued just before a key rotation still verifies after it.
type stateKeys struct {
	mu        sync.Mutex
	ks        *saml.KeySet
	cur, prev []byte
}

// keys returns the current MAC key and the previous one (nil if none).
func (c *stateKeys) keys(ks *saml.KeySet) (cur, prev []byte, err error) {
	if ks == nil {
		return nil, nil, errors.New("no signing key loaded")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ks != ks {
		der, err := x509.MarshalPKCS8PrivateKey(ks.Signer)
		if err != nil {
			return nil, nil, fmt.Errorf("derive state key: %w", err)
		}
		sum := sha256.Sum256(append([]byte("flexidp login state\x00"), der...))
		if c.cur != nil && !hmac.Equal(c.cur, sum[:]) {
			c.prev = c.cur
		}
		c.ks, c.cur = ks, sum[:]
	}
	return c.cur, c.prev, nil
}

func mac(key, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	return m.Sum(nil)
}

// sign returns the MAC of payload under the current key.
func (c *stateKeys) sign(ks *saml.KeySet, payload []byte) ([]byte, error) {
	cur, _, err := c.keys(ks)
	if err != nil {
		return nil, err
	}
	return mac(cur, payload), nil
}

// verify reports whether sig is payload's MAC under the current or the
// previous key.
func (c *stateKeys) verify(ks *saml.KeySet, payload, sig []byte) (bool, error) {
	cur, prev, err := c.keys(ks)
	if err != nil {
		return false, err
	}
	if hmac.Equal(sig, mac(cur, payload)) {
		return true, nil
	}
	return prev != nil && hmac.Equal(sig, mac(prev, payload)), nil
}

// secretKey derives the key that encrypts an enrolment secret inside a
// login state from a MAC key: the state is readable by whoever holds the
// form, and a secret in it must not be.
func secretKey(macKey []byte) cipher.AEAD {
	sum := sha256.Sum256(append([]byte("flexidp enrolment secret\x00"), macKey...))
	block, _ := aes.NewCipher(sum[:]) // a 32-byte key never fails
	aead, _ := cipher.NewGCM(block)
	return aead
}

// seal encrypts secret under the current key (AES-256-GCM).
func (c *stateKeys) seal(ks *saml.KeySet, secret string) ([]byte, error) {
	cur, _, err := c.keys(ks)
	if err != nil {
		return nil, err
	}
	aead := secretKey(cur)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, []byte(secret), nil), nil
}

// open decrypts what seal returned, under the current or the previous
// key; ok is false if neither opens it.
func (c *stateKeys) open(ks *saml.KeySet, sealed []byte) (secret string, ok bool, err error) {
	cur, prev, err := c.keys(ks)
	if err != nil {
		return "", false, err
	}
	for _, k := range [][]byte{cur, prev} {
		if k == nil {
			continue
		}
		aead := secretKey(k)
		if len(sealed) < aead.NonceSize() {
			return "", false, nil
		}
		if plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], nil); err == nil {
			return string(plain), true, nil
		}
	}
	return "", false, nil
}
