package keys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// sealedPrefix marks a private key encrypted at rest.
var sealedPrefix = []byte("flexidp-sealed:v1:")

// Sealer encrypts private keys at rest with AES-256-GCM under a key from
// configuration (IDP_KEY_ENCRYPTION_KEY). A nil or zero Sealer stores keys
// in the clear: anyone who can read the database can then sign as the IdP.
type Sealer struct {
	aead cipher.AEAD
	// what and setting name, in error messages, what is sealed and the
	// configuration that holds the secret.
	what, setting string
}

// NewSealer derives the AES-256 key from secret (SHA-256 of it; give it at
// least 32 random bytes, e.g. `openssl rand -base64 32`). An empty secret
// returns a Sealer that does not encrypt.
func NewSealer(secret string) (*Sealer, error) {
	return NewSealerFor("key encryption", "private key", "IDP_KEY_ENCRYPTION_KEY", secret)
}

// NewSealerFor is NewSealer for another kind of secret: purpose separates
// the derived AES key ("key encryption" is NewSealer's), so one secret can
// serve several purposes without one's ciphertext opening as another's;
// what ("TOTP secret") and setting ("IDP_MFA_ENCRYPTION_KEY") name them in
// error messages.
func NewSealerFor(purpose, what, setting, secret string) (*Sealer, error) {
	if secret == "" {
		return &Sealer{what: what, setting: setting}, nil
	}
	if len(secret) < 16 {
		return nil, fmt.Errorf("%s must be at least 16 characters (use `openssl rand -base64 32`)", setting)
	}
	sum := sha256.Sum256([]byte("flexidp " + purpose + "\x00" + secret))
	block, err := aes.NewCipher(sum[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead, what: what, setting: setting}, nil
}

// Encrypts reports whether the Sealer encrypts.
func (s *Sealer) Encrypts() bool { return s != nil && s.aead != nil }

// Seal encrypts plain when the Sealer has a key, else returns it as is.
func (s *Sealer) Seal(plain []byte) ([]byte, error) {
	if !s.Encrypts() {
		return plain, nil
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	ct := s.aead.Seal(nonce, nonce, plain, sealedPrefix)
	out := append([]byte{}, sealedPrefix...)
	return append(out, base64.StdEncoding.EncodeToString(ct)...), nil
}

// IsSealed reports whether a stored private key is encrypted at rest.
func IsSealed(stored []byte) bool { return bytes.HasPrefix(stored, sealedPrefix) }

// Open reverses Seal. A sealed key without a configured Sealer, or with the
// wrong key, is a clear error, never a silent failure.
func (s *Sealer) Open(stored []byte) ([]byte, error) {
	if !IsSealed(stored) {
		return stored, nil
	}
	what, setting := "private key", "IDP_KEY_ENCRYPTION_KEY"
	if s != nil && s.setting != "" {
		what, setting = s.what, s.setting
	}
	if !s.Encrypts() {
		return nil, fmt.Errorf("the %s is encrypted at rest; set %s", what, setting)
	}
	ct, err := base64.StdEncoding.DecodeString(string(stored[len(sealedPrefix):]))
	if err != nil || len(ct) < s.aead.NonceSize() {
		return nil, fmt.Errorf("the encrypted %s is corrupt", what)
	}
	plain, err := s.aead.Open(nil, ct[:s.aead.NonceSize()], ct[s.aead.NonceSize():], sealedPrefix)
	if err != nil {
		return nil, fmt.Errorf("cannot decrypt the %s: %s is not the key it was encrypted with", what, setting)
	}
	return plain, nil
}
