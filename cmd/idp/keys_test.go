package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/accounts"
)

// TestKeysActivatePrintsConsoleSteps: idp keys activate prints what to do
// in the Twilio Console and the certificate to paste, the steps the
// console's Keys page shows (accounts.KeyActivationSteps).
func TestKeysActivatePrintsConsoleSteps(t *testing.T) {
	e := newTestEnv(t)
	e.getenv["IDP_BASE_URL"] = "https://idp.example.com"
	out := e.cli("", "keys", "add")
	m := regexp.MustCompile(`added next key (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("keys add: %s", out)
	}
	out = e.cli("", "keys", "activate", m[1])
	for i, step := range accounts.KeyActivationSteps("https://idp.example.com/saml/metadata") {
		if want := string(rune('1'+i)) + ". " + step; !strings.Contains(out, want) {
			t.Errorf("keys activate does not print %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "-----BEGIN CERTIFICATE-----") {
		t.Errorf("keys activate does not print the certificate:\n%s", out)
	}
	// Already active: nothing to paste again.
	if out := e.cli("", "keys", "activate", m[1]); !strings.Contains(out, "already active") {
		t.Errorf("activating twice: %s", out)
	}
}
