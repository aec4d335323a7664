package main

import (
	"os"
	"path/filepath"
	"testing"

	crewjam "github.com/crewjam/saml"

	"github.com/flexidp/flexidp/internal/samltest"
)

// TestSigningCertCommands: sp set --signing-cert says that the SP's
// requests must now be signed, and --require-signed-requests=false warns
// that unsigned ones are accepted. (The refusal of unsigned requests is
// tested in internal/server, TestUnsignedRequestsRefused.)
func TestSigningCertCommands(t *testing.T) {
	e, _ := sqliteEnv(t)
	setupFlex(t, e)
	file := filepath.Join(t.TempDir(), "sp.pem")
	if err := os.WriteFile(file, samltest.SignRequests(t, &crewjam.ServiceProvider{}), 0o600); err != nil {
		t.Fatal(err)
	}
	samltest.MustContain(t, e.cli("", "sp", "set", "--sp", "flex", "--signing-cert", file), "must now be signed")
	samltest.MustContain(t, e.cli("", "sp", "set", "--sp", "flex", "--require-signed-requests=false"), "UNSIGNED")
}
