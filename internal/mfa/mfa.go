// Package mfa is flexidp's second factor: TOTP codes (RFC 6238, on
// github.com/pquerna/otp) with the parameters every authenticator app
// supports (SHA-1, 6 digits, 30 s), the QR code that enrols an app, and
// one-time recovery codes. It performs no I/O: the caller stores the
// (sealed) secret and the recovery code hashes, and records used time
// steps so that no code is accepted twice.
package mfa

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters.
const (
	// Period is the life of one code.
	Period = 30 * time.Second
	// Skew is how many periods before and after now are also accepted, for
	// clock drift between the phone and the server.
	Skew = 1
	// RecoveryCodeCount is how many recovery codes an enrolment gives.
	RecoveryCodeCount = 10
)

var opts = totp.ValidateOpts{Period: uint(Period / time.Second), Skew: Skew, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// Key is a new TOTP secret and the otpauth:// URI an authenticator app
// reads from the QR code.
type Key struct {
	// Secret is the base32 secret; also typed by hand when the QR code
	// cannot be scanned.
	Secret string
	URI    string
}

// NewKey generates a 160-bit secret for account (the user's email), shown
// in the app under issuer.
func NewKey(issuer, account string) (Key, error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, Period: opts.Period,
		SecretSize: 20, Digits: opts.Digits, Algorithm: opts.Algorithm})
	if err != nil {
		return Key{}, fmt.Errorf("generate TOTP secret: %w", err)
	}
	return Key{Secret: k.Secret(), URI: k.URL()}, nil
}

// KeyFromSecret rebuilds the Key of a stored secret (to show the QR code
// again while enrolment is pending).
func KeyFromSecret(issuer, account, secret string) Key {
	k, err := NewKey(issuer, account)
	if err != nil {
		return Key{Secret: secret}
	}
	return Key{Secret: secret, URI: strings.Replace(k.URI, "secret="+k.Secret, "secret="+secret, 1)}
}

// QRCode returns the QR code of uri as a PNG data: URI, for an <img> that
// the strict CSP allows (img-src data:).
func QRCode(uri string) (string, error) {
	k, err := otp.NewKeyFromURL(uri)
	if err != nil {
		return "", fmt.Errorf("QR code: %w", err)
	}
	img, err := k.Image(240, 240)
	if err != nil {
		return "", fmt.Errorf("QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", fmt.Errorf("QR code: %w", err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// IsTOTPCode reports whether s, once spaces are removed, has the shape of
// a TOTP code (six digits) rather than a recovery code.
func IsTOTPCode(s string) bool {
	s = normalize(s)
	if len(s) != 6 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Match checks code against secret at now, allowing Skew periods of drift,
// in constant time per candidate. It returns the time step (counter) the
// code belongs to: the caller records it as used (until StepExpiry) so the
// same code is never accepted twice (RFC 6238 §5.2).
func Match(secret, code string, now time.Time) (step int64, ok bool) {
	code = normalize(code)
	period := int64(opts.Period)
	cur := now.Unix() / period
	found := false
	for d := int64(-Skew); d <= Skew; d++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix((cur+d)*period, 0), opts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && !found {
			step, found = cur+d, true
		}
	}
	return step, found
}

// StepExpiry is when a code of step can no longer be accepted, so its
// "used" record may be forgotten.
func StepExpiry(step int64) time.Time {
	return time.Unix((step+Skew+1)*int64(opts.Period), 0).UTC()
}

// Code returns the code of secret at t (tests, and the CLI's checks).
func Code(secret string, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, t, opts)
}

var recoveryEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewRecoveryCodes returns RecoveryCodeCount fresh codes to show the user
// once ("ABCDE-FGHIJ", 50 random bits each) and their hashes to store.
// Their entropy makes a fast hash (SHA-256) enough: nothing to brute-force
// offline that a 2^50 search per code would not make pointless.
func NewRecoveryCodes() (codes, hashes []string, err error) {
	for range RecoveryCodeCount {
		b := make([]byte, 7)
		if _, err := rand.Read(b); err != nil {
			return nil, nil, fmt.Errorf("generate recovery codes: %w", err)
		}
		s := recoveryEncoding.EncodeToString(b)[:10]
		code := s[:5] + "-" + s[5:]
		codes = append(codes, code)
		hashes = append(hashes, HashRecoveryCode(code))
	}
	return codes, hashes, nil
}

// HashRecoveryCode is how a recovery code is stored and looked up; case,
// spaces and dashes do not matter.
func HashRecoveryCode(code string) string {
	sum := sha256.Sum256([]byte("flexidp recovery code\x00" + strings.ToUpper(normalize(code))))
	return hex.EncodeToString(sum[:])
}

// normalize drops the spaces and dashes people type inside codes.
func normalize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
}
