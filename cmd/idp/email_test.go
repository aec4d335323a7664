package main

import (
	"strings"
	"testing"
)

// TestCLIRefusesLookAlikeEmails: users add refuses an address with an
// invisible character or a Cyrillic letter among Latin ones, saying why,
// so it cannot become a second user that looks like the first.
func TestCLIRefusesLookAlikeEmails(t *testing.T) {
	e, _ := sqliteEnv(t)
	e.cli("", "users", "add", "--email", "agent@example.com", "--no-password")
	for email, says := range map[string]string{
		"agent\u200b@example.com": "contains an invisible character (U+200B)",
		"\u0430gent@example.com":  "mixes letters of different scripts (Cyrillic and Latin)",
	} {
		if out := e.cliWant(1, "", "users", "add", "--email", email, "--no-password"); !strings.Contains(out, says) {
			t.Errorf("users add --email %+q: %q does not say %q", email, out, says)
		}
	}
}
