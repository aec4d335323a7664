package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDocsForReaders: SECURITY.md's headings cite no internal issue
// numbers, and the README gives SSO performance as two separate measures
// (wall clock and per server CPU-second), as docs/performance.md does.
func TestDocsForReaders(t *testing.T) {
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile("../../" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, h := range regexp.MustCompile(`(?m)^#+ .*$`).FindAllString(read("SECURITY.md"), -1) {
		if strings.Contains(h, "§") || regexp.MustCompile(`(?i)\bissue \d`).MatchString(h) {
			t.Errorf("SECURITY.md heading cites an internal issue: %q", h)
		}
	}
	readme := read("README.md")
	i := strings.Index(readme, "SSO with a session")
	if i < 0 {
		t.Fatal("README.md no longer reports SSO performance")
	}
	sso := readme[i:min(len(readme), i+400)]
	perf := read("docs/performance.md")
	for _, fig := range regexp.MustCompile(`\d+–\d+ %`).FindAllString(sso, -1) {
		if !strings.Contains(perf, strings.TrimSuffix(fig, " %")) {
			t.Errorf("README's SSO figure %q is not in docs/performance.md", fig)
		}
	}
	for _, s := range []string{"on the wall clock", "per server CPU-second"} {
		if !strings.Contains(sso, s) {
			t.Errorf("README's SSO figure does not state the measure %q:\n%s", s, sso)
		}
	}
}
