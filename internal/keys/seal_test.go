package keys_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/keys"
)

const secret = "0123456789abcdef0123456789abcdef"

func newSealer(t *testing.T, secret string) *keys.Sealer {
	t.Helper()
	s, err := keys.NewSealer(secret)
	if err != nil {
		t.Fatalf("NewSealer: %v", err)
	}
	return s
}

func TestSealerRoundTrip(t *testing.T) {
	s := newSealer(t, secret)
	if !s.Encrypts() {
		t.Fatal("a Sealer with a secret must encrypt")
	}
	plain := []byte("-----BEGIN PRIVATE KEY-----\nsecret material\n-----END PRIVATE KEY-----\n")
	sealed, err := s.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("secret material")) || bytes.Contains(sealed, []byte("PRIVATE KEY")) {
		t.Fatalf("sealed key shows the plain text: %s", sealed)
	}
	again, err := s.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(sealed, again) {
		t.Error("two seals of the same key are identical: the nonce is not random")
	}
	for _, c := range [][]byte{sealed, again} {
		got, err := s.Open(c)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("Open = %q, %v; want the plain key", got, err)
		}
	}
	// The same secret in another process (another replica) opens it too.
	if got, err := newSealer(t, secret).Open(sealed); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("another Sealer with the same secret: Open = %q, %v", got, err)
	}
}

func TestSealerClear(t *testing.T) {
	for name, s := range map[string]*keys.Sealer{"empty secret": newSealer(t, ""), "nil": nil, "zero": {}} {
		t.Run(name, func(t *testing.T) {
			if s.Encrypts() {
				t.Fatal("Encrypts() = true without a secret")
			}
			plain := []byte("-----BEGIN PRIVATE KEY-----\n")
			sealed, err := s.Seal(plain)
			if err != nil || !bytes.Equal(sealed, plain) {
				t.Fatalf("Seal = %q, %v; want the key unchanged (stored in the clear)", sealed, err)
			}
			if got, err := s.Open(sealed); err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("Open = %q, %v", got, err)
			}
		})
	}
	// A key stored in the clear stays readable after an encryption key is
	// configured: turning encryption on does not lock out existing keys.
	plain := []byte("-----BEGIN PRIVATE KEY-----\n")
	if got, err := newSealer(t, secret).Open(plain); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open of a clear key with a Sealer = %q, %v", got, err)
	}
}

func TestSealerErrors(t *testing.T) {
	sealed, err := newSealer(t, secret).Seal([]byte("key"))
	if err != nil {
		t.Fatal(err)
	}
	// Flip one bit of the ciphertext: GCM must notice.
	const prefix = "flexidp-sealed:v1:"
	ct, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(string(sealed), prefix))
	if err != nil {
		t.Fatal(err)
	}
	ct[len(ct)-1] ^= 1
	tampered := []byte(prefix + base64.StdEncoding.EncodeToString(ct))
	for _, tc := range []struct {
		name   string
		sealer *keys.Sealer
		stored []byte
		want   string
	}{
		{"wrong key", newSealer(t, "another-secret-of-32-characters!"), sealed, "IDP_KEY_ENCRYPTION_KEY is not the key it was encrypted with"},
		{"no key configured", newSealer(t, ""), sealed, "encrypted at rest; set IDP_KEY_ENCRYPTION_KEY"},
		{"nil sealer", nil, sealed, "encrypted at rest; set IDP_KEY_ENCRYPTION_KEY"},
		{"tampered", newSealer(t, secret), tampered, "cannot decrypt"},
		{"not base64", newSealer(t, secret), []byte(prefix + "%%%"), "corrupt"},
		{"truncated", newSealer(t, secret), []byte(prefix), "corrupt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.sealer.Open(tc.stored)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open = %q, %v; want an error saying %q", got, err, tc.want)
			}
			if got != nil {
				t.Errorf("Open returned %q with its error", got)
			}
		})
	}
}

func TestNewSealerShortSecret(t *testing.T) {
	if _, err := keys.NewSealer("too-short"); err == nil || !strings.Contains(err.Error(), "at least 16 characters") {
		t.Fatalf("NewSealer(short) error = %v, want a refusal naming the minimum", err)
	}
}

func TestIsSealed(t *testing.T) {
	sealed, err := newSealer(t, secret).Seal([]byte("key"))
	if err != nil {
		t.Fatal(err)
	}
	clear, _ := newSealer(t, "").Seal([]byte("-----BEGIN PRIVATE KEY-----\n"))
	if !keys.IsSealed(sealed) || keys.IsSealed(clear) {
		t.Errorf("IsSealed(sealed) = %v, IsSealed(clear) = %v", keys.IsSealed(sealed), keys.IsSealed(clear))
	}
}
