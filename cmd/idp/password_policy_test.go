package main

import (
	"strings"
	"testing"
)

// TestCLIPasswordPolicy: users add and set-password apply the one password
// policy: a common breached password is refused with a sentence that says
// so, and IDP_PASSWORD_MIN_LENGTH raises the minimum (a bad value is a
// clear error).
func TestCLIPasswordPolicy(t *testing.T) {
	e, _ := sqliteEnv(t)
	for _, c := range []struct {
		name, stdin string
		args        []string
		minLength   string
		says        string
	}{
		{"add, common", "Password1\n", []string{"users", "add", "--email", "a@example.com"}, "", "the password is in a list of commonly used passwords; choose another"},
		{"add, under the configured minimum", "correct horse\n", []string{"users", "add", "--email", "a@example.com"}, "15", "the password must have at least 15 characters"},
		{"bad minimum", "correct horse battery\n", []string{"users", "add", "--email", "a@example.com"}, "6", "IDP_PASSWORD_MIN_LENGTH: the minimum password length must be 8 to 64 characters, not 6"},
		{"set-password, common", "iloveyou\n", []string{"users", "set-password", "--email", "b@example.com"}, "", "the password is in a list of commonly used passwords"},
	} {
		// cliWant fails the test it was made with: no subtests here.
		e.getenv["IDP_PASSWORD_MIN_LENGTH"] = c.minLength
		if out := e.cliWant(1, c.stdin, c.args...); !strings.Contains(out, c.says) {
			t.Errorf("%s: output %q does not say %q", c.name, out, c.says)
		}
		if c.name == "bad minimum" {
			e.getenv["IDP_PASSWORD_MIN_LENGTH"] = ""
			e.cli("correct horse battery\n", "users", "add", "--email", "b@example.com")
		}
	}
	e.getenv["IDP_PASSWORD_MIN_LENGTH"] = "15"
	e.cli("correct horse battery\n", "users", "set-password", "--email", "b@example.com")
}
