package server

import (
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/flexidp/flexidp/internal/saml"
)

func TestStateKeysSurviveOneRotation(t *testing.T) {
	keySet := func() *saml.KeySet {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		return &saml.KeySet{Signer: k}
	}
	a, b, c := keySet(), keySet(), keySet()
	var sk stateKeys
	payload := []byte(`{"r":{"id":"x"}}`)
	sigA, err := sk.sign(a, payload)
	if err != nil {
		t.Fatal(err)
	}
	check := func(ks *saml.KeySet, sig []byte, want bool, what string) {
		t.Helper()
		ok, err := sk.verify(ks, payload, sig)
		if err != nil || ok != want {
			t.Fatalf("%s: verify = %v, %v; want %v", what, ok, err, want)
		}
	}
	check(a, sigA, true, "same key")
	check(a, append([]byte{}, sigA[1:]...), false, "truncated MAC")
	if ok, _ := sk.verify(a, []byte(`{"r":{"id":"y"}}`), sigA); ok {
		t.Fatal("a MAC verified another payload")
	}
	// The same key material in a new KeySet (a reload) changes nothing.
	check(&saml.KeySet{Signer: a.Signer}, sigA, true, "reloaded key")
	check(b, sigA, true, "form issued before one rotation")
	sigB, _ := sk.sign(b, payload)
	check(c, sigB, true, "form issued before the latest rotation")
	check(c, sigA, false, "form issued two rotations ago")
	if _, err := sk.sign(nil, payload); err == nil {
		t.Fatal("signed without a key")
	}
}
