// Package keys manages the IdP's signing keys: generation of an RSA key
// and self-signed certificate, encryption of private keys at rest, and
// loading the active key from the store or from files.
package keys

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"

	"github.com/flexidp/flexidp/internal/saml"
	"github.com/flexidp/flexidp/internal/store"
)

// Defaults for generated keys.
const (
	DefaultBits     = 2048
	MinBits         = 2048
	DefaultValidity = 5 * 365 * 24 * time.Hour
)

// Generate makes a new RSA key and a self-signed certificate for it, named
// after the IdP's entity ID. The private key is sealed with sealer.
func Generate(sealer *Sealer, commonName string, bits int, now time.Time) (store.SigningKey, error) {
	if bits == 0 {
		bits = DefaultBits
	}
	if bits < MinBits {
		return store.SigningKey{}, fmt.Errorf("RSA keys must have at least %d bits, not %d", MinBits, bits)
	}
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("generate RSA key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("generate serial: %w", err)
	}
	if len(commonName) > 64 { // X.520 ub-common-name
		commonName = commonName[:64]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"flexidp"}},
		NotBefore:             now.Add(-time.Hour).UTC(),
		NotAfter:              now.Add(DefaultValidity).UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("create certificate: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("marshal key: %w", err)
	}
	sealed, err := sealer.Seal(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
	if err != nil {
		return store.SigningKey{}, err
	}
	sum := sha256.Sum256(der)
	return store.SigningKey{
		ID:             hex.EncodeToString(sum[:6]),
		PrivateKey:     sealed,
		CertificatePEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		State:          store.KeyActive,
		CreatedAt:      now.UTC(),
	}, nil
}

// Ensure returns the store's active key, generating and storing one if
// there is none. When several replicas start at once, the store lets only
// one active key in (ErrConflict for the others), and the losers load the
// winner's key: exactly one key is generated.
func Ensure(ctx context.Context, st store.Store, sealer *Sealer, commonName string, bits int, now time.Time) (store.SigningKey, bool, error) {
	if k, err := Active(ctx, st); err == nil {
		return k, false, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.SigningKey{}, false, err
	}
	k, err := Generate(sealer, commonName, bits, now)
	if err != nil {
		return store.SigningKey{}, false, err
	}
	switch err := st.CreateSigningKey(ctx, k); {
	case err == nil:
		return k, true, nil
	case errors.Is(err, store.ErrConflict):
		k, err := Active(ctx, st)
		return k, false, err
	default:
		return store.SigningKey{}, false, fmt.Errorf("store signing key: %w", err)
	}
}

// Active returns the active key, or store.ErrNotFound.
func Active(ctx context.Context, st store.Store) (store.SigningKey, error) {
	ks, err := st.ListSigningKeys(ctx)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("list signing keys: %w", err)
	}
	for _, k := range ks {
		if k.State == store.KeyActive {
			return k, nil
		}
	}
	return store.SigningKey{}, fmt.Errorf("no active signing key: %w", store.ErrNotFound)
}

// KeySet loads the store's keys into the IdP's signing material: the
// active key signs, next keys are published.
func KeySet(ctx context.Context, st store.Store, sealer *Sealer) (*saml.KeySet, error) {
	ks, err := st.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	var out saml.KeySet
	for _, k := range ks {
		switch k.State {
		case store.KeyActive:
			keyPEM, err := sealer.Open(k.PrivateKey)
			if err != nil {
				return nil, fmt.Errorf("signing key %s: %w", k.ID, err)
			}
			signer, cert, err := Parse(keyPEM, k.CertificatePEM)
			if err != nil {
				return nil, fmt.Errorf("signing key %s: %w", k.ID, err)
			}
			out.ID, out.Signer, out.Certificate = k.ID, signer, cert
		case store.KeyNext:
			cert, err := ParseCertificate(k.CertificatePEM)
			if err != nil {
				return nil, fmt.Errorf("signing key %s: %w", k.ID, err)
			}
			out.Published = append(out.Published, cert)
		}
	}
	if out.Signer == nil {
		return nil, fmt.Errorf("no active signing key: %w", store.ErrNotFound)
	}
	return &out, nil
}

// FromFiles loads a key pair from PEM files (IDP_SIGNING_KEY_FILE and
// IDP_SIGNING_CERT_FILE).
func FromFiles(keyFile, certFile string) (*saml.KeySet, error) {
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("read signing certificate: %w", err)
	}
	signer, cert, err := Parse(keyPEM, certPEM)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(cert.Raw)
	return &saml.KeySet{ID: "file-" + hex.EncodeToString(sum[:6]), Signer: signer, Certificate: cert}, nil
}

// Parse decodes an RSA private key (PKCS#8 or PKCS#1 PEM) and its
// certificate, and checks they belong together.
func Parse(keyPEM, certPEM []byte) (crypto.Signer, *x509.Certificate, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, nil, errors.New("private key is not PEM")
	}
	var key *rsa.PrivateKey
	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("parse private key: %w", err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, nil, fmt.Errorf("private key is %T, flexidp signs with RSA", k)
		}
		key = rk
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("parse private key: %w", err)
		}
		key = k
	default:
		return nil, nil, fmt.Errorf("private key PEM block is %q, want PRIVATE KEY or RSA PRIVATE KEY", block.Type)
	}
	if key.N.BitLen() < MinBits {
		return nil, nil, fmt.Errorf("RSA key has %d bits, at least %d are required", key.N.BitLen(), MinBits)
	}
	cert, err := ParseCertificate(certPEM)
	if err != nil {
		return nil, nil, err
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, nil, errors.New("the certificate does not match the private key")
	}
	return key, cert, nil
}

// ParseCertificate decodes one PEM certificate.
func ParseCertificate(certPEM []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("certificate is not a PEM CERTIFICATE block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return cert, nil
}
