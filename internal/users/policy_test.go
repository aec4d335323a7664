package users

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckPasswordRefusesCommonPasswords: the passwords of the breach
// lists are refused in any case, with a sentence that says why; long or
// uncommon ones pass.
func TestCheckPasswordRefusesCommonPasswords(t *testing.T) {
	for _, c := range []struct {
		pw     string
		common bool
	}{
		{"password", true},
		{"PASSWORD", true},
		{"Password1", true},
		{"iloveyou", true},
		{"qwertyuiop", true},
		{"trustno1", true},
		{"12345678", true},
		{"correct horse", false},
		{"password password", false},
		{"Tr0ub4dor&3-ish", false},
	} {
		err := PasswordPolicy{MinLength: 8}.Check(c.pw, "")
		var ve *ValidationError
		switch {
		case c.common && (!errors.As(err, &ve) || ve.Reason != "is in a list of commonly used passwords; choose another"):
			t.Errorf("Check(%q) = %v, want the common-password refusal", c.pw, err)
		case !c.common && err != nil:
			t.Errorf("Check(%q) = %v, want nil", c.pw, err)
		}
	}
	if n := len(commonPasswords()); n != 30000 {
		t.Errorf("the embedded list has %d passwords, want 30000", n)
	}
}

// TestPasswordPolicyMinLength: the minimum is configurable from 8 to 64
// characters (NIST: at least 8; passwords of 64 must be allowed), and
// counted in characters, not bytes.
func TestPasswordPolicyMinLength(t *testing.T) {
	p := PasswordPolicy{MinLength: 15}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := p.Check("fourteen chars", ""); err == nil || !strings.Contains(err.Error(), "at least 15 characters") {
		t.Errorf("14 characters with a minimum of 15: %v", err)
	}
	if err := p.Check("fifteen chars!!", ""); err != nil {
		t.Errorf("15 characters with a minimum of 15: %v", err)
	}
	if err := p.Check(strings.Repeat("é", 15), ""); err != nil {
		t.Errorf("15 two-byte characters: %v", err)
	}
	for _, n := range []int{0, 7, 65} {
		if err := (PasswordPolicy{MinLength: n}).Validate(); err == nil {
			t.Errorf("a minimum of %d was accepted", n)
		}
	}
	if err := (PasswordPolicy{}).Check("short12", ""); err == nil {
		t.Errorf("the zero policy accepted 7 characters; its minimum must be %d", MinPasswordLength)
	}
}
