package users

import (
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// An email address is what a person is known by: two addresses that look
// the same must not be two users. Unicode makes that easy to get wrong: an
// invisible character (U+200B ZERO WIDTH SPACE, U+00AD SOFT HYPHEN), a
// letter of another script that looks Latin (Cyrillic "а" in "аgent"), or
// the same accented letter composed or decomposed. NormalizeEmail puts
// addresses in NFC, so "é" is one form, and ValidateEmail refuses invisible
// and control characters and letters of mixed scripts in the local part or
// in a label of the domain, the way browsers treat confusable domain
// names (UTS #39, "highly restrictive": one script, or Latin with Han and
// Japanese, Korean or Bopomofo).

// checkEmailCharacters reports an invisible or control character, or mixed
// scripts, in email (already NFC).
func checkEmailCharacters(email string) error {
	for _, r := range email {
		if r < 0x80 {
			if r < 0x20 || r == 0x7f {
				return emailCharError(email, r, "a control character")
			}
			continue
		}
		switch {
		case unicode.Is(unicode.Cc, r):
			return emailCharError(email, r, "a control character")
		case unicode.Is(unicode.Cf, r), unicode.Is(unicode.Zs, r), unicode.Is(unicode.Zl, r), unicode.Is(unicode.Zp, r),
			unicode.Is(unicode.Variation_Selector, r), unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r):
			return emailCharError(email, r, "an invisible character")
		case unicode.Is(unicode.Co, r), !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S):
			return emailCharError(email, r, "a character that cannot be shown")
		}
	}
	local, domain, _ := strings.Cut(email, "@")
	if err := checkOneScript(email, "the part before the @", local); err != nil {
		return err
	}
	for _, label := range strings.Split(domain, ".") {
		if err := checkOneScript(email, "the domain", label); err != nil {
			return err
		}
	}
	return nil
}

func emailCharError(email string, r rune, what string) error {
	return &ValidationError{Field: "email", Reason: fmt.Sprintf("%+q contains %s (%U); type the address again", email, what, r)}
}

// The scripts that may be mixed with Latin (UTS #39 highly restrictive).
var (
	japanese = []string{"Latin", "Han", "Hiragana", "Katakana"}
	chinese  = []string{"Latin", "Han", "Bopomofo"}
	korean   = []string{"Latin", "Han", "Hangul"}
)

func checkOneScript(email, where, s string) error {
	var scripts []string
	for _, r := range s {
		if r < 0x80 && !unicode.IsLetter(r) {
			continue
		}
		sc := scriptOf(r)
		if sc == "" || sc == "Common" || sc == "Inherited" {
			continue
		}
		if !contains(scripts, sc) {
			scripts = append(scripts, sc)
		}
	}
	if len(scripts) <= 1 || subset(scripts, japanese) || subset(scripts, chinese) || subset(scripts, korean) {
		return nil
	}
	return &ValidationError{Field: "email", Reason: fmt.Sprintf("%+q mixes letters of different scripts (%s) in %s, which makes look-alike addresses; type the address again",
		email, strings.Join(scripts, " and "), where)}
}

// scriptOf is the Unicode script of r, "" if none is known.
func scriptOf(r rune) string {
	for _, name := range []string{"Latin", "Common", "Inherited", "Cyrillic", "Greek"} {
		if unicode.Is(unicode.Scripts[name], r) {
			return name
		}
	}
	for name, t := range unicode.Scripts {
		if unicode.Is(t, r) {
			return name
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !contains(b, x) {
			return false
		}
	}
	return true
}

// normalizeEmail is NormalizeEmail's rule: trimmed, in NFC.
func normalizeEmail(s string) string { return norm.NFC.String(strings.TrimSpace(s)) }
