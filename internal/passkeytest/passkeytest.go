// Package passkeytest is a software WebAuthn authenticator for tests that
// run without a browser: it answers the options flexidp sends to
// navigator.credentials.create and get as a browser with a platform
// authenticator would (an ES256 key, "none" attestation, user verified),
// so the relying party's checks run on real signatures. Browser tests use
// Chromium's virtual authenticator instead.
package passkeytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// Authenticator holds one credential, for one origin.
type Authenticator struct {
	// Origin is the page's origin the browser reports ("https://idp.example.com").
	Origin string
	// Counter is the signature counter, incremented before each
	// assertion; set it back to play a cloned authenticator.
	Counter uint32
	key     *ecdsa.PrivateKey
	id      []byte
	user    []byte
	rpID    string
}

// New returns an authenticator with no credential yet, used from origin.
func New(origin string) *Authenticator {
	return &Authenticator{Origin: origin}
}

// ID is the credential ID, base64url as flexidp stores it ("" before Create).
func (a *Authenticator) ID() string { return base64.RawURLEncoding.EncodeToString(a.id) }

var b64 = base64.RawURLEncoding

type options struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		RPID string `json:"rpId"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	} `json:"publicKey"`
}

func parse(opts []byte) (options, error) {
	var o options
	if err := json.Unmarshal(opts, &o); err != nil {
		return o, fmt.Errorf("passkeytest: options: %w", err)
	}
	return o, nil
}

// clientData is the browser's collected client data of a ceremony.
func (a *Authenticator) clientData(kind, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": kind, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
	return b
}

// authData is the authenticator data: the RP ID hash, flags (user
// present and verified, plus extra), the counter, then attested.
func (a *Authenticator) authData(flags byte, attested []byte) []byte {
	h := sha256.Sum256([]byte(a.rpID))
	out := append(h[:], flags|0x05)
	out = binary.BigEndian.AppendUint32(out, a.Counter)
	return append(out, attested...)
}

// Create answers registration options (the JSON of Ceremony.Options) with
// a new credential and returns the browser's answer as JSON.
func (a *Authenticator) Create(opts []byte) ([]byte, error) {
	o, err := parse(opts)
	if err != nil {
		return nil, err
	}
	if a.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	a.id = make([]byte, 32)
	_, _ = rand.Read(a.id)
	a.rpID = o.PublicKey.RP.ID
	if a.user, err = b64.DecodeString(o.PublicKey.User.ID); err != nil {
		return nil, fmt.Errorf("passkeytest: user ID: %w", err)
	}
	pub, err := a.key.PublicKey.ECDH()
	if err != nil {
		return nil, err
	}
	raw := pub.Bytes() // 0x04 || X || Y
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         1, XCoord: raw[1:33], YCoord: raw[33:]})
	if err != nil {
		return nil, err
	}
	attested := make([]byte, 16) // AAGUID: none
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(a.id)))
	attested = append(append(attested, a.id...), cose...)
	obj, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": a.authData(0x40, attested)})
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"id": a.ID(), "rawId": a.ID(), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(a.clientData("webauthn.create", o.PublicKey.Challenge)),
			"attestationObject": b64.EncodeToString(obj),
			"transports":        []string{"internal"},
		}})
}

// Get answers sign-in options (the JSON of Ceremony.Options) with an
// assertion of the credential Create made, and returns it as JSON.
func (a *Authenticator) Get(opts []byte) ([]byte, error) {
	o, err := parse(opts)
	if err != nil {
		return nil, err
	}
	if a.key == nil {
		return nil, fmt.Errorf("passkeytest: no credential")
	}
	return a.Sign(o.PublicKey.Challenge)
}

// Sign returns an assertion over challenge (base64url), whatever was
// asked: a test signs a challenge it was not given.
func (a *Authenticator) Sign(challenge string) ([]byte, error) {
	a.Counter++
	data := a.authData(0, nil)
	cd := a.clientData("webauthn.get", challenge)
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, data...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"id": a.ID(), "rawId": a.ID(), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cd),
			"authenticatorData": b64.EncodeToString(data),
			"signature":         b64.EncodeToString(sig),
			"userHandle":        b64.EncodeToString(a.user),
		}})
}
