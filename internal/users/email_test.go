package users

import (
	"errors"
	"strings"
	"testing"
)

// TestValidateEmailRefusesLookAlikes: addresses that would look like
// another user's are refused with a sentence that says why; addresses in
// one script (or Latin with CJK) are accepted; NormalizeEmail makes the
// composed and decomposed forms of an accent one address.
func TestValidateEmailRefusesLookAlikes(t *testing.T) {
	for _, c := range []struct {
		name, email, says string // says "" for accepted
	}{
		{"plain", "agent@example.com", ""},
		{"accented Latin", "zoë.ünal@example.com", ""},
		{"Cyrillic only", "агент@пример.рф", ""},
		{"Cyrillic TLD, Latin name", "agent@example.рф", ""},
		{"Japanese", "山田たろう@example.jp", ""},
		{"zero width space", "agent\u200b@example.com", "contains an invisible character (U+200B)"},
		{"zero width joiner in the domain", "agent@exam\u200dple.com", "contains an invisible character (U+200D)"},
		{"soft hyphen", "ag\u00adent@example.com", "contains an invisible character (U+00AD)"},
		{"bidi override", "agent\u202e@example.com", "contains an invisible character (U+202E)"},
		{"control", "agent\u0085@example.com", "contains a control character (U+0085)"},
		{"Cyrillic a in the local part", "\u0430gent@example.com", "mixes letters of different scripts (Cyrillic and Latin) in the part before the @"},
		{"Cyrillic o in the domain", "agent@ex\u0430mple.com", "mixes letters of different scripts (Latin and Cyrillic) in the domain"},
		{"Greek omicron", "agent@g\u03bfogle.com", "mixes letters of different scripts"},
		{"decomposed accent", "zoe\u0308@example.com", "not normalised"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := ValidateEmail(c.email)
			var ve *ValidationError
			switch {
			case c.says == "" && err != nil:
				t.Fatalf("ValidateEmail(%+q) = %v, want nil", c.email, err)
			case c.says != "" && (!errors.As(err, &ve) || ve.Field != "email" || !strings.Contains(ve.Reason, c.says)):
				t.Fatalf("ValidateEmail(%+q) = %v, want an email error saying %q", c.email, err, c.says)
			}
		})
	}
	if got := NormalizeEmail(" zoe\u0308@example.com "); got != "zo\u00eb@example.com" || ValidateEmail(got) != nil {
		t.Fatalf("NormalizeEmail of a decomposed ë = %+q (valid: %v), want the composed form", got, ValidateEmail(got))
	}
}
