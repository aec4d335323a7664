package i18n

import (
	"slices"
	"strings"
	"testing"
)

// referenceT is T as it was written first (a Replacer built on every
// call, the language always appended to the arguments): the reference
// the faster T must equal.
func referenceT(lang, key string, args ...any) string {
	args = append(slices.Clip(args), "\x00lang", lang)
	s := lookup(lang, key, args)
	s = strings.NewReplacer("<strong>", "", "</strong>", "", "<code>", "", "</code>", "").Replace(s)
	return format(s, args, func(s string) string { return s })
}

// TestTSameAsReference: every sentence of every language, without
// arguments, with every placeholder given, with a count and with a
// nested message, reads as the reference T has it.
func TestTSameAsReference(t *testing.T) {
	for _, lang := range Languages {
		for _, key := range Keys(lang) {
			var all, nested []any
			for _, form := range Forms(lang, key) {
				for _, p := range Placeholders(form) {
					all = append(all, p[1:len(p)-1], "<"+p+"&>")
					nested = append(nested, p[1:len(p)-1], M("language.name"))
				}
			}
			for _, args := range [][]any{nil, all, nested, {"count", 1}, {"count", 3, "name", M("language.name")}, {"odd"}} {
				if got, want := T(lang, key, args...), referenceT(lang, key, args...); got != want {
					t.Errorf("T(%s, %s, %v) = %q, want %q", lang, key, args, got, want)
				}
			}
		}
	}
}

// BenchmarkT is one sentence without arguments (the page title) and one
// with (the request ID in the footer).
func BenchmarkT(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = T("fr", "title.post")
		_ = T("fr", "base.request", "id", "0123456789abcdef")
	}
}
