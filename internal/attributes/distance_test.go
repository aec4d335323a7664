package attributes

import (
	"strings"
	"testing"
)

// osa is distance as a full matrix: the reference for the three rows
// distance keeps, on the stack or not.
func osa(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// TestDistance: distance is the full matrix's, for short words (rows on
// the stack) and long ones (rows allocated), around the 32-rune limit.
func TestDistance(t *testing.T) {
	long := strings.Repeat("abcdefgh", 5)
	for _, tc := range []struct{ a, b string }{
		{"", ""}, {"", "int"}, {"int", ""}, {"ints", "int"}, {"itn", "int"}, {"stirng", "string"},
		{"booleanarary", "booleanarray"}, {"café", "cafe"}, {"ça", "ac"},
		{long[:31], long[:30] + "x"}, {long[:31], long[:32]}, {long[:32], long[:33]}, {long, long[1:] + "a"},
		{"int", long}, {long, "int"}, {strings.Repeat("é", 40), strings.Repeat("e", 40)},
	} {
		if got, want := distance(tc.a, tc.b), osa(tc.a, tc.b); got != want {
			t.Errorf("distance(%q, %q) = %d, want %d", tc.a, tc.b, got, want)
		}
	}
}

// TestCheckSuffixBounds: checkSuffix skips the type words out of reach
// (by length, or by the letters the word lacks); what it refuses and
// suggests is what comparing with every type word gives (the search as
// it was), for every word one edit or two from a type word and a few
// others.
func TestCheckSuffixBounds(t *testing.T) {
	full := func(lower string) (string, bool) {
		suggestion, known := "", false
		for _, w := range typeWords {
			limit := 1
			if len(w) >= 6 {
				limit = 2
			}
			if d := distance(lower, w); d <= limit && (!known || d < distance(lower, suggestion)) {
				suggestion, known = w, true
			}
		}
		return suggestion, known
	}
	words := map[string]bool{"capacity": true, "id": true, "ids": true, "flöat": true, "intarrayé": true, "ïnt": true, "arrays": true,
		"INTS": true, "Strin": true, "booleanarraY": true, strings.Repeat("a", 300): true, strings.Repeat("a", 256) + "int": true, "a-rray": true}
	edits := func(w string) []string {
		var out []string
		for i := 0; i <= len(w); i++ {
			for _, c := range "aeinrstxé" {
				out = append(out, w[:i]+string(c)+w[i:]) // insert
				if i < len(w) {
					out = append(out, w[:i]+string(c)+w[i+1:]) // substitute
				}
			}
			if i < len(w) {
				out = append(out, w[:i]+w[i+1:]) // delete
			}
			if i+1 < len(w) {
				out = append(out, w[:i]+w[i+1:i+2]+w[i:i+1]+w[i+2:]) // transpose
			}
		}
		return out
	}
	for _, w := range typeWords {
		for _, e := range edits(w) {
			words[e] = true
			for _, e2 := range edits(e)[:40] {
				words[e2] = true
			}
		}
	}
	for word := range words {
		lower := strings.ToLower(word)
		if _, ok := ParseType(word); ok || len(word) < 3 {
			continue
		}
		if _, ok := typeLike[lower]; ok {
			continue
		}
		if _, ok := ParseType(lower); ok {
			continue
		}
		want, refused := full(lower)
		err := checkSuffix("skills." + word)
		if (err != nil) != refused || err != nil && err.Suggestion != "skills."+want {
			t.Errorf("checkSuffix(skills.%s) = %v, want refused %v suggesting %q", word, err, refused, want)
		}
	}
}
