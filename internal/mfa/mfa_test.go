package mfa

import (
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
)

func TestMatchAndReplayStep(t *testing.T) {
	k, err := NewKey("flexidp", "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := otp.NewKeyFromURL(k.URI)
	if err != nil || parsed.Secret() != k.Secret || parsed.Issuer() != "flexidp" || parsed.AccountName() != "ada@example.com" {
		t.Fatalf("URI %q does not carry the key: %v", k.URI, err)
	}
	now := time.Date(2025, 6, 1, 9, 0, 10, 0, time.UTC)
	cur := now.Unix() / 30
	for _, c := range []struct {
		name  string
		at    time.Time
		ok    bool
		delta int64
	}{
		{"now", now, true, 0},
		{"previous period (phone slow)", now.Add(-30 * time.Second), true, -1},
		{"next period (phone fast)", now.Add(30 * time.Second), true, 1},
		{"two periods old", now.Add(-60 * time.Second), false, 0},
	} {
		code, err := Code(k.Secret, c.at)
		if err != nil {
			t.Fatal(err)
		}
		step, ok := Match(k.Secret, code[:3]+" "+code[3:], now)
		if ok != c.ok || (ok && step != cur+c.delta) {
			t.Errorf("%s: Match = %d, %v; want step %d, %v", c.name, step, ok, cur+c.delta, c.ok)
		}
		if ok && !StepExpiry(step).After(now) {
			t.Errorf("%s: StepExpiry %v is not after now", c.name, StepExpiry(step))
		}
	}
	if _, ok := Match(k.Secret, "000000x", now); ok {
		t.Error("a malformed code matched")
	}
	if !IsTOTPCode(" 123 456 ") || IsTOTPCode("ABCDE-FGHIJ") || IsTOTPCode("12345") {
		t.Error("IsTOTPCode misclassifies")
	}
	// The QR code is a PNG data: URI.
	qr, err := QRCode(k.URI)
	if err != nil || !strings.HasPrefix(qr, "data:image/png;base64,iVBOR") {
		t.Fatalf("QRCode = %.40q, %v", qr, err)
	}
	again := KeyFromSecret("flexidp", "ada@example.com", k.Secret)
	if p, err := otp.NewKeyFromURL(again.URI); err != nil || p.Secret() != k.Secret {
		t.Fatalf("KeyFromSecret URI %q: %v", again.URI, err)
	}
}

func TestRecoveryCodes(t *testing.T) {
	codes, hashes, err := NewRecoveryCodes()
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != RecoveryCodeCount || len(hashes) != RecoveryCodeCount {
		t.Fatalf("got %d codes, %d hashes", len(codes), len(hashes))
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if len(c) != 11 || c[5] != '-' || seen[c] {
			t.Fatalf("code %q malformed or repeated", c)
		}
		seen[c] = true
		if HashRecoveryCode(strings.ToLower(strings.ReplaceAll(c, "-", " "))) != hashes[i] {
			t.Fatalf("code %q typed differently does not hash the same", c)
		}
		if strings.Contains(hashes[i], c[:5]) {
			t.Fatal("hash contains the code")
		}
	}
}
