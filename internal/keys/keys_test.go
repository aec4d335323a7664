package keys_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/keys"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/pgtest"
	"github.com/flexidp/flexidp/internal/store/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const entityID = "https://idp.example.com/saml/metadata"

var now = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// generated caches keys: a 2048-bit RSA key takes a while under -race.
var generated = struct {
	sync.Mutex
	m map[string]store.SigningKey
}{m: map[string]store.SigningKey{}}

// generate returns a key sealed with secret, the same one for the same name.
func generate(t *testing.T, name, secret string) store.SigningKey {
	t.Helper()
	generated.Lock()
	defer generated.Unlock()
	if k, ok := generated.m[name]; ok {
		return k
	}
	k, err := keys.Generate(newSealer(t, secret), entityID, 0, now)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	generated.m[name] = k
	return k
}

func TestGenerate(t *testing.T) {
	k := generate(t, "sealed", secret)
	if k.State != store.KeyActive || k.ID == "" || !k.CreatedAt.Equal(now) {
		t.Errorf("Generate = ID %q, state %q, created %s", k.ID, k.State, k.CreatedAt)
	}
	if strings.Contains(string(k.PrivateKey), "PRIVATE KEY") {
		t.Fatal("the private key is stored in the clear although a key encryption key is set")
	}
	keyPEM, err := newSealer(t, secret).Open(k.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	signer, cert, err := keys.Parse(keyPEM, k.CertificatePEM)
	if err != nil {
		t.Fatalf("Parse of a generated key: %v", err)
	}
	if bits := signer.Public().(*rsa.PublicKey).N.BitLen(); bits != keys.DefaultBits {
		t.Errorf("key has %d bits, want %d", bits, keys.DefaultBits)
	}
	if cert.Subject.CommonName != entityID || cert.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("certificate subject %q, key usage %v", cert.Subject.CommonName, cert.KeyUsage)
	}
	if !cert.NotBefore.Before(now) || !cert.NotAfter.Equal(now.Add(keys.DefaultValidity)) {
		t.Errorf("certificate valid %s..%s", cert.NotBefore, cert.NotAfter)
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		t.Errorf("certificate is not self-signed: %v", err)
	}

	clear := generate(t, "clear", "")
	if !strings.Contains(string(clear.PrivateKey), "BEGIN PRIVATE KEY") {
		t.Error("without a key encryption key the private key must be plain PEM")
	}
	if clear.ID == k.ID {
		t.Error("two generated keys have the same ID")
	}
}

func TestGenerateRefusesWeakKeys(t *testing.T) {
	for _, bits := range []int{512, 1024, 2047} {
		_, err := keys.Generate(newSealer(t, ""), entityID, bits, now)
		if err == nil || !strings.Contains(err.Error(), "at least 2048 bits") {
			t.Errorf("Generate(%d bits) error = %v, want a refusal", bits, err)
		}
	}
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestParse(t *testing.T) {
	a, b := generate(t, "clear", ""), generate(t, "clear2", "")
	rsaA, _ := pem.Decode(a.PrivateKey)
	pkcs8, err := x509.ParsePKCS8PrivateKey(rsaA.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(pkcs8.(*rsa.PrivateKey)))
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}

	if _, _, err := keys.Parse(a.PrivateKey, a.CertificatePEM); err != nil {
		t.Errorf("PKCS#8 key: %v", err)
	}
	if _, _, err := keys.Parse(pkcs1, a.CertificatePEM); err != nil {
		t.Errorf("PKCS#1 key: %v", err)
	}
	for _, tc := range []struct {
		name      string
		key, cert []byte
		want      string
	}{
		{"certificate of another key", a.PrivateKey, b.CertificatePEM, "the certificate does not match the private key"},
		{"key under 2048 bits", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(weak)), a.CertificatePEM, "1024 bits, at least 2048"},
		{"ECDSA key", pemBlock("PRIVATE KEY", ecDER), a.CertificatePEM, "flexidp signs with RSA"},
		{"not PEM", []byte("hello"), a.CertificatePEM, "not PEM"},
		{"wrong PEM type", pemBlock("EC PRIVATE KEY", []byte{1}), a.CertificatePEM, `"EC PRIVATE KEY"`},
		{"garbage PKCS#8", pemBlock("PRIVATE KEY", []byte{1, 2, 3}), a.CertificatePEM, "parse private key"},
		{"certificate not PEM", a.PrivateKey, []byte("hello"), "not a PEM CERTIFICATE"},
		{"key as certificate", a.PrivateKey, a.PrivateKey, "not a PEM CERTIFICATE"},
		{"garbage certificate", a.PrivateKey, pemBlock("CERTIFICATE", []byte{1, 2, 3}), "parse certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			signer, cert, err := keys.Parse(tc.key, tc.cert)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse error = %v, want one saying %q", err, tc.want)
			}
			if signer != nil || cert != nil {
				t.Error("Parse returned a key with its error")
			}
		})
	}
}

func TestFromFiles(t *testing.T) {
	a, b := generate(t, "clear", ""), generate(t, "clear2", "")
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyA, certA, certB := write("a.key", a.PrivateKey), write("a.pem", a.CertificatePEM), write("b.pem", b.CertificatePEM)
	ks, err := keys.FromFiles(keyA, certA)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ks.ID, "file-") || ks.Signer == nil || string(pemBlock("CERTIFICATE", ks.Certificate.Raw)) != string(a.CertificatePEM) {
		t.Errorf("FromFiles = %+v", ks)
	}
	if _, err := keys.FromFiles(keyA, certB); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("mismatched files: error = %v", err)
	}
	if _, err := keys.FromFiles(filepath.Join(dir, "missing.key"), certA); err == nil || !strings.Contains(err.Error(), "read signing key") {
		t.Errorf("missing key file: error = %v", err)
	}
	if _, err := keys.FromFiles(keyA, filepath.Join(dir, "missing.pem")); err == nil || !strings.Contains(err.Error(), "read signing certificate") {
		t.Errorf("missing certificate file: error = %v", err)
	}
}

// keyList is a store that only lists signing keys.
type keyList struct {
	store.Store
	keys []store.SigningKey
}

func (l keyList) ListSigningKeys(context.Context) ([]store.SigningKey, error) { return l.keys, nil }

func withState(k store.SigningKey, s store.KeyState) store.SigningKey {
	k.State = s
	return k
}

func TestKeySet(t *testing.T) {
	active, next, retired := generate(t, "sealed", secret), generate(t, "sealed2", secret), generate(t, "sealed3", secret)
	st := keyList{keys: []store.SigningKey{withState(retired, store.KeyRetired), active, withState(next, store.KeyNext)}}
	ks, err := keys.KeySet(t.Context(), st, newSealer(t, secret))
	if err != nil {
		t.Fatal(err)
	}
	if ks.ID != active.ID || ks.Signer == nil || string(pemBlock("CERTIFICATE", ks.Certificate.Raw)) != string(active.CertificatePEM) {
		t.Errorf("KeySet signs with %s, want the active key %s", ks.ID, active.ID)
	}
	if len(ks.Published) != 1 || string(pemBlock("CERTIFICATE", ks.Published[0].Raw)) != string(next.CertificatePEM) {
		t.Errorf("KeySet publishes %d extra certificates, want only the next key's (retired keys are not published)", len(ks.Published))
	}
	if k, err := keys.Active(t.Context(), st); err != nil || k.ID != active.ID {
		t.Errorf("Active = %s, %v", k.ID, err)
	}

	if _, err := keys.KeySet(t.Context(), st, newSealer(t, "")); err == nil || !strings.Contains(err.Error(), "set IDP_KEY_ENCRYPTION_KEY") {
		t.Errorf("KeySet without the key encryption key: error = %v", err)
	}
	if _, err := keys.KeySet(t.Context(), st, newSealer(t, "the-wrong-secret-of-32-characters")); err == nil || !strings.Contains(err.Error(), "not the key it was encrypted with") {
		t.Errorf("KeySet with the wrong key encryption key: error = %v", err)
	}
	noActive := keyList{keys: []store.SigningKey{withState(next, store.KeyNext)}}
	if _, err := keys.KeySet(t.Context(), noActive, newSealer(t, secret)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("KeySet without an active key: error = %v, want store.ErrNotFound", err)
	}
	if _, err := keys.Active(t.Context(), noActive); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Active without an active key: error = %v, want store.ErrNotFound", err)
	}
}

// raceStore makes every caller of ListSigningKeys wait until n callers have
// listed once, so that all of them find no key and generate one: the race
// of replicas starting together, made certain.
type raceStore struct {
	*postgres.Store
	listed *sync.WaitGroup
	once   sync.Once
}

func (r *raceStore) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	ks, err := r.Store.ListSigningKeys(ctx)
	first := false
	r.once.Do(func() { first = true })
	if first {
		r.listed.Done()
		r.listed.Wait()
	}
	return ks, err
}

// TestEnsureConcurrent runs Ensure from several "replicas" (each with its
// own connection pool) on one fresh PostgreSQL database at once: exactly
// one key is generated and every caller gets it.
func TestEnsureConcurrent(t *testing.T) {
	url := pgtest.URL(t)
	const replicas = 3
	var listed sync.WaitGroup
	listed.Add(replicas)
	stores := make([]*raceStore, replicas)
	for i := range stores {
		st, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		stores[i] = &raceStore{Store: st, listed: &listed}
	}
	if _, err := stores[0].Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}

	type result struct {
		key     store.SigningKey
		created bool
		err     error
	}
	results := make([]result, replicas)
	var wg sync.WaitGroup
	for i, st := range stores {
		wg.Go(func() {
			k, created, err := keys.Ensure(t.Context(), st, newSealer(t, secret), entityID, 0, now)
			results[i] = result{k, created, err}
		})
	}
	wg.Wait()

	created := 0
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("replica %d: Ensure: %v", i, r.err)
		}
		if r.created {
			created++
		}
		if r.key.ID != results[0].key.ID {
			t.Errorf("replica %d got key %s, replica 0 got %s", i, r.key.ID, results[0].key.ID)
		}
	}
	if created != 1 {
		t.Errorf("%d replicas report they created the key, want exactly 1", created)
	}
	all, err := stores[0].Store.ListSigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].ID != results[0].key.ID || all[0].State != store.KeyActive {
		t.Fatalf("store holds %d keys, want exactly the one active key %s", len(all), results[0].key.ID)
	}
	// A later start (a restart, a third replica) loads it, generates nothing.
	k, made, err := keys.Ensure(t.Context(), stores[1].Store, newSealer(t, secret), entityID, 0, now)
	if err != nil || made || k.ID != all[0].ID {
		t.Fatalf("Ensure on a store with a key = %s, created %v, %v", k.ID, made, err)
	}
}
