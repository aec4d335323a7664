package server

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/i18n"
)

// allocated is how many bytes the program has allocated so far: it only
// grows, so the difference over a call is what the call allocated (plus
// what other goroutines did meanwhile, little here), whatever the
// collector frees.
func allocated() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// TestPagesParsedOnFirstUse: a started server holds no parsed public
// page; a page is parsed the first time it is asked for in a language,
// once, and asking for one page does not parse the others (idle memory:
// sign-in shows two or three of the fourteen). A page that does not
// parse still stops the server at start: parsePages checks them all.
func TestPagesParsedOnFirstUse(t *testing.T) {
	ps, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		lang, name string
		want       int64 // pages parsed and kept so far
	}{
		{"", "", 0},
		{i18n.Default, "login", 1},
		{i18n.Default, "login", 1},
		{i18n.Default, "post", 2},
		{"fr", "login", 3},
		{i18n.Default, "console/home", 3}, // the console's pages are not public pages
	}
	for _, s := range steps {
		if s.name != "" {
			if _, err := ps.page(s.lang, s.name); err != nil {
				t.Fatalf("page %s in %s: %v", s.name, s.lang, err)
			}
		}
		if got := ps.parsed.Load(); got != s.want {
			t.Fatalf("after asking for %q in %q: %d public pages parsed and kept, want %d", s.name, s.lang, got, s.want)
		}
	}
	if _, err := ps.page(i18n.Default, "nosuchpage"); err == nil {
		t.Error("an unknown page: no error")
	}
}

// TestPagesParsedPerLanguageOnFirstUse: starting parses the default
// language's public pages only (to check them; TestPagesParsedOnFirstUse:
// none is kept); another language's, and the console's, are parsed when
// first asked for, and every language has every page.
func TestPagesParsedPerLanguageOnFirstUse(t *testing.T) {
	before := allocated()
	ps, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	atStart := allocated() - before
	for _, lang := range i18n.Languages {
		for _, name := range pageNames {
			if _, err := ps.page(lang, name); err != nil {
				t.Fatalf("page %s in %s: %v", name, lang, err)
			}
		}
	}
	for _, name := range consolePageNames {
		if _, err := ps.page(i18n.Default, "console/"+name); err != nil {
			t.Fatalf("console page %s: %v", name, err)
		}
	}
	all := allocated() - before
	t.Logf("parsing at start allocated %d KiB, every page in every language %d KiB", atStart>>10, all>>10)
	// Four languages and the console: the default language's public
	// pages are at most a quarter of all of them.
	if atStart*4 > all {
		t.Errorf("parsing at start allocated %d KiB of the %d KiB every page takes; want only the default language's public pages parsed", atStart>>10, all>>10)
	}
	if _, err := ps.page("xx", "login"); err == nil {
		t.Error("a page in an unknown language: no error")
	}
	// A language parsed late renders in its own language.
	fr, err := ps.page("fr", "error")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := fr.ExecuteTemplate(&buf, "base", page{Lang: "fr", Title: "title.error"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `lang="fr"`) {
		t.Errorf("French page not in French:\n%.400s", buf.String())
	}
	runtime.KeepAlive(ps)
}
