package server

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"sync"

	"github.com/flexidp/flexidp/internal/saml"
)

var stateKeys sync.Map // *saml.KeySet -> []byte

// stateKey derives the login-state MAC key from the signing key, which
// every replica shares. It is cached per key set.
func stateKey(ks *saml.KeySet) ([]byte, error) {
	if k, ok := stateKeys.Load(ks); ok {
		return k.([]byte), nil
	}
	der, err := x509.MarshalPKCS8PrivateKey(ks.Signer)
	if err != nil {
		return nil, fmt.Errorf("derive state key: %w", err)
	}
	sum := sha256.Sum256(append([]byte("flexidp login state\x00"), der...))
	stateKeys.Store(ks, sum[:])
	return sum[:], nil
}
