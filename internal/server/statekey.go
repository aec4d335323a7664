package server

import (
	"crypto/hmac"
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
