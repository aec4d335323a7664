package i18n

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestCatalogComplete: every key of English exists, non-empty, in every
// shipped language, with the same placeholders and markup; a plural has
// every form the language's CLDR rules use for whole numbers (and no
// other); no language has a key English lacks. Adding a language is
// adding its file: this test lists what it still lacks.
func TestCatalogComplete(t *testing.T) {
	en := Keys(Default)
	if len(en) < 100 {
		t.Fatalf("English catalog has %d keys; it did not load", len(en))
	}
	markupRE := regexp.MustCompile(`</?[a-z]+>`)
	for _, lang := range Languages {
		t.Run(lang, func(t *testing.T) {
			needed := map[string]bool{}
			for n := range 1001 {
				needed[PluralForm(lang, n)] = true
			}
			for _, key := range en {
				want, got := Forms(Default, key), Forms(lang, key)
				_, wantPlain := want[""]
				_, gotPlain := got[""]
				switch {
				case got == nil:
					t.Errorf("%s lacks %q (English: %q)", lang, key, want)
					continue
				case wantPlain != gotPlain:
					t.Errorf("%s: %q must be %s, like English", lang, key, map[bool]string{true: "a sentence", false: `a plural {"one": ..., "other": ...}`}[wantPlain])
					continue
				}
				ref := want["other"]
				if wantPlain {
					ref = want[""]
				}
				for form, s := range got {
					if strings.TrimSpace(s) == "" {
						t.Errorf("%s: %q is empty", lang, key)
					}
					if !gotPlain && !needed[form] {
						t.Errorf("%s: %q has the form %q, which %s never uses", lang, key, form, lang)
					}
					if w, g := Placeholders(ref), Placeholders(s); !slices.Equal(w, g) {
						t.Errorf("%s: %q has placeholders %v, English %v", lang, key, g, w)
					}
					if w, g := markupRE.FindAllString(ref, -1), markupRE.FindAllString(s, -1); !slices.Equal(w, g) {
						t.Errorf("%s: %q has markup %v, English %v", lang, key, g, w)
					}
				}
				if !gotPlain {
					for form := range needed {
						if _, ok := got[form]; !ok {
							t.Errorf("%s: %q lacks the plural form %q", lang, key, form)
						}
					}
				}
			}
			for _, key := range Keys(lang) {
				if Forms(Default, key) == nil {
					t.Errorf("%s has %q, which English does not: remove it or add it to en.json", lang, key)
				}
			}
		})
	}
}

// TestLanguagesFromFiles: the shipped languages are the catalog's files,
// English first.
func TestLanguagesFromFiles(t *testing.T) {
	if want := []string{"en", "es", "fr", "pt-BR"}; !slices.Equal(Languages, want) {
		t.Errorf("Languages = %v, want %v", Languages, want)
	}
}

// TestMarkupOnlyStrongAndCode: a sentence's markup is <strong> or <code>
// and nothing else, in pairs, so HTML can keep it and escape the rest.
func TestMarkupOnlyStrongAndCode(t *testing.T) {
	tag := regexp.MustCompile(`<[^>]*>`)
	for _, lang := range Languages {
		for _, key := range Keys(lang) {
			for _, s := range Forms(lang, key) {
				tags := tag.FindAllString(s, -1)
				for _, tg := range tags {
					if !slices.Contains([]string{"<strong>", "</strong>", "<code>", "</code>"}, tg) {
						t.Errorf("%s: %q has markup %s", lang, key, tg)
					}
				}
				if strings.Count(s, "<strong>") != strings.Count(s, "</strong>") || strings.Count(s, "<code>") != strings.Count(s, "</code>") {
					t.Errorf("%s: %q has unbalanced markup", lang, key)
				}
			}
		}
	}
}

func TestMatch(t *testing.T) {
	for _, c := range []struct{ header, want string }{
		{"", "en"},
		{"en-US,en;q=0.9", "en"},
		{"es-MX,es;q=0.9,en;q=0.5", "es"},
		{"es-419", "es"},
		{"pt", "pt-BR"},
		{"pt-PT,pt;q=0.8", "pt-BR"},
		{"pt-BR", "pt-BR"},
		{"fr-CA", "fr"},
		{"fr-FR,fr;q=0.9,en;q=0.1", "fr"},
		{"de-DE,de;q=0.9", "en"},
		{"de-DE,fr;q=0.5", "fr"},
		{"ja", "en"},
		{"*", "en"},
		{"not a header;;;q=x", "en"},
	} {
		if got := Match(c.header); got != c.want {
			t.Errorf("Match(%q) = %q, want %q", c.header, got, c.want)
		}
	}
}

func TestSupported(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{{"pt-br", "pt-BR", true}, {"FR", "fr", true}, {"en", "en", true}, {"de", "", false}, {"", "", false}, {"pt", "", false}} {
		if got, ok := Supported(c.in); got != c.want || ok != c.ok {
			t.Errorf("Supported(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// TestPlurals: the count chooses the form by each language's rule (0 is
// singular in French and Portuguese, plural in English and Spanish).
func TestPlurals(t *testing.T) {
	for _, c := range []struct {
		lang  string
		count int
		want  string
	}{
		{"en", 0, "0 other sessions were signed out."},
		{"en", 1, "1 other session was signed out."},
		{"en", 2, "2 other sessions were signed out."},
		{"es", 1, "Se cerró 1 sesión más."},
		{"es", 3, "Se cerraron 3 sesiones más."},
		{"fr", 0, "0 autre session a été déconnectée."},
		{"pt-BR", 0, "0 outra sessão foi encerrada."},
		{"fr", 2, "2 autres sessions ont été déconnectées."},
		{"pt-BR", 1, "1 outra sessão foi encerrada."},
		{"pt-BR", 5, "5 outras sessões foram encerradas."},
	} {
		if got := T(c.lang, "account.ended", "count", c.count); got != c.want {
			t.Errorf("T(%s, account.ended, %d) = %q, want %q", c.lang, c.count, got, c.want)
		}
	}
}

// TestHTMLEscapes: HTML keeps the catalog's <strong> and escapes the
// arguments; T drops the markup.
func TestHTMLEscapes(t *testing.T) {
	got := string(HTML("en", "login.continue_to", "sp", `<script>x</script> & "co"`))
	want := `Sign in to continue to <strong>&lt;script&gt;x&lt;/script&gt; &amp; &#34;co&#34;</strong>.`
	if got != want {
		t.Errorf("HTML = %s, want %s", got, want)
	}
	if got := T("fr", "login.continue_to", "sp", "Acme"); got != "Connectez-vous pour continuer vers Acme." {
		t.Errorf("T = %q", got)
	}
}

// TestNestedMessage: an argument that is a Message is shown in the
// reader's language.
func TestNestedMessage(t *testing.T) {
	m := M("mfa.throttled", "wait", M("wait.minutes", "count", 2))
	if got := m.In("es"); got != "Demasiados códigos incorrectos. Vuelve a intentarlo dentro de 2 minutos." {
		t.Errorf("In(es) = %q", got)
	}
	if got := m.String(); got != "Too many wrong codes. Try again in 2 minutes." {
		t.Errorf("String = %q", got)
	}
}

func TestContext(t *testing.T) {
	if got := FromContext(context.Background()); got != Default {
		t.Errorf("FromContext(empty) = %q", got)
	}
	if got := FromContext(NewContext(context.Background(), "fr")); got != "fr" {
		t.Errorf("FromContext = %q", got)
	}
}
