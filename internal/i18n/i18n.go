// Package i18n is flexidp's one message catalog: every sentence a person
// reads on a public page, in an error or in an email, in every language
// flexidp ships. Each language is one JSON file in locales/ (embedded),
// named by its BCP 47 tag, mapping a key to a sentence, or to its plural
// forms ({"one": ..., "other": ...}, and "zero", "two", "few" or "many"
// where the language's CLDR rules have them).
//
// Sentences take named arguments written {name}; the integer argument
// named count also chooses the plural form, by CLDR's rules
// (golang.org/x/text/feature/plural). Only <strong> and <code> may appear
// as markup, and only sentences shown with HTML (the template function th)
// use them; everything else is escaped.
//
// Adding a language is adding one file: TestCatalogComplete names every
// key it lacks, every extra key, every plural form its rules need and
// every placeholder that differs from English.
package i18n

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// Default is the language of a request that asks for none flexidp has,
// and of the CLI's emails.
const Default = "en"

//go:embed locales/*.json
var files embed.FS

// PluralForms are the names of CLDR's plural forms, in their usual order.
var PluralForms = []string{"zero", "one", "two", "few", "many", "other"}

var formNames = map[plural.Form]string{plural.Zero: "zero", plural.One: "one", plural.Two: "two",
	plural.Few: "few", plural.Many: "many", plural.Other: "other"}

// entry is a sentence (Text), or its plural forms by name (Forms).
type entry struct {
	Text  string
	Forms map[string]string
}

func (e *entry) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '{' {
		e.Forms = map[string]string{}
		if err := json.Unmarshal(b, &e.Forms); err != nil {
			return err
		}
		for name := range e.Forms {
			if !slices.Contains(PluralForms, name) {
				return fmt.Errorf("%q is not a plural form (%s)", name, strings.Join(PluralForms, ", "))
			}
		}
		if e.Forms["other"] == "" {
			return fmt.Errorf("a plural needs its \"other\" form")
		}
		return nil
	}
	return json.Unmarshal(b, &e.Text)
}

var (
	// catalogs are the shipped languages' sentences by language, each
	// parsed from its file the first time the language is read: a server
	// whose readers use one language does not hold (or spend its start
	// parsing) the others.
	catalogs = map[string]func() map[string]entry{}
	// Languages lists the shipped languages (one file each), English
	// first, then by tag: the order of the switch.
	Languages []string
	// matching is the tags of Languages and their matcher, built on the
	// first Accept-Language or plural read (no request needs it at start).
	matching = sync.OnceValue(newMatching)
)

type languageMatching struct {
	tags    map[string]language.Tag
	matcher language.Matcher
}

// The shipped languages are the names of the files: their sentences are
// parsed on first use (catalog).
func init() {
	catalogs, Languages = languagesIn(files)
	if catalogs[Default] == nil {
		panic("i18n: no catalog for " + Default)
	}
}

// languagesIn lists the languages of fsys's locales/*.json, English
// first, with a function per language that parses its file once, when
// first called.
func languagesIn(fsys fs.FS) (map[string]func() map[string]entry, []string) {
	names, err := fs.Glob(fsys, "locales/*.json")
	if err != nil {
		panic(err)
	}
	cats := map[string]func() map[string]entry{}
	var langs []string
	for _, name := range names {
		lang := strings.TrimSuffix(path.Base(name), ".json")
		cats[lang] = sync.OnceValue(func() map[string]entry { return parseCatalog(fsys, name) })
		if lang != Default {
			langs = append(langs, lang)
		}
	}
	slices.Sort(langs)
	return cats, append([]string{Default}, langs...)
}

// parseCatalog reads one language's file. The files are embedded and
// every one is parsed by the package's tests (TestCatalogComplete), so a
// broken one is a build that cannot pass them, not an input.
func parseCatalog(fsys fs.FS, name string) map[string]entry {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		panic(err)
	}
	m := map[string]entry{}
	if err := json.Unmarshal(b, &m); err != nil {
		panic(fmt.Sprintf("i18n: %s: %v", name, err))
	}
	return m
}

// catalog is lang's sentences, nil for a language flexidp does not ship.
func catalog(lang string) map[string]entry {
	if c, ok := catalogs[lang]; ok {
		return c()
	}
	return nil
}

func newMatching() languageMatching {
	m := languageMatching{tags: map[string]language.Tag{}}
	supported := make([]language.Tag, len(Languages))
	for i, lang := range Languages {
		tag, err := language.Parse(lang)
		if err != nil {
			panic(fmt.Sprintf("i18n: locales/%s.json is not named by a BCP 47 language tag: %v", lang, err))
		}
		m.tags[lang], supported[i] = tag, tag
	}
	m.matcher = language.NewMatcher(supported)
	return m
}

// Supported returns flexidp's spelling of lang ("pt-br" -> "pt-BR") if
// it is a shipped language.
func Supported(lang string) (string, bool) {
	for _, l := range Languages {
		if strings.EqualFold(l, lang) {
			return l, true
		}
	}
	return "", false
}

// Match chooses the shipped language closest to an Accept-Language
// header: any Portuguese is Brazilian Portuguese, any Spanish is Spanish,
// and a language flexidp does not ship is English.
func Match(acceptLanguage string) string {
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return Default
	}
	_, i, conf := matching().matcher.Match(tags...)
	if conf == language.No {
		return Default
	}
	return Languages[i]
}

type ctxKey struct{}

// NewContext returns ctx carrying the language of the person it serves:
// what they read (a page, an email sent for them) is in it.
func NewContext(ctx context.Context, lang string) context.Context {
	return context.WithValue(ctx, ctxKey{}, lang)
}

// FromContext is the language ctx carries, or Default.
func FromContext(ctx context.Context) string {
	if l, ok := ctx.Value(ctxKey{}).(string); ok {
		return l
	}
	return Default
}

// Message is a sentence of the catalog with its arguments, to be shown
// in the reader's language.
type Message struct {
	Key string
	// Args are name, value pairs.
	Args []any
	// raw is a sentence that is not in the catalog (Raw).
	raw string
}

// Raw is a sentence shown as it is, in every language: the admin
// console's, which is in English only and not in the catalog. A public
// page never uses it (TestTemplatesHaveNoLiterals and
// TestPagesHaveNoEnglish check the agents' pages).
func Raw(sentence string) Message { return Message{raw: sentence} }

// M returns the message key with args (name, value pairs).
func M(key string, args ...any) Message { return Message{Key: key, Args: args} }

// In is the message in lang.
func (m Message) In(lang string) string {
	if m.raw != "" {
		return m.raw
	}
	return T(lang, m.Key, m.Args...)
}

// String is the message in English, for logs.
func (m Message) String() string { return m.In(Default) }

// IsZero reports whether m is no message.
func (m Message) IsZero() bool { return m.Key == "" && m.raw == "" }

var placeholderRE = regexp.MustCompile(`\{[a-z_]+\}`)

// lookup returns the sentence key in lang for the argument count (if
// any), falling back to English, then to the key itself (a test keeps
// every key in every language).
func lookup(lang, key string, args []any) string {
	e, ok := catalog(lang)[key]
	if !ok {
		if e, ok = catalog(Default)[key]; !ok {
			return key
		}
	}
	if e.Forms == nil {
		return e.Text
	}
	n, _ := arg(args, "count").(int)
	if s, ok := e.Forms[PluralForm(lang, n)]; ok {
		return s
	}
	return e.Forms["other"]
}

// PluralForm is the name of the plural form of the integer n in lang, by
// CLDR's cardinal rules: "one" is 1 in English and Spanish, 0 and 1 in
// French and Brazilian Portuguese.
func PluralForm(lang string, n int) string {
	tag, ok := matching().tags[lang]
	if !ok {
		tag = language.Make(lang)
	}
	if n < 0 {
		n = -n
	}
	return formNames[plural.Cardinal.MatchPlural(tag, n, 0, 0, 0, 0)]
}

func arg(args []any, name string) any {
	for i := 0; i+1 < len(args); i += 2 {
		if args[i] == name {
			return args[i+1]
		}
	}
	return nil
}

// format replaces each {name} of s with its argument, through esc.
func format(s string, args []any, esc func(string) string) string {
	return placeholderRE.ReplaceAllStringFunc(s, func(p string) string {
		v := arg(args, p[1:len(p)-1])
		if v == nil {
			return esc(p)
		}
		if m, ok := v.(Message); ok {
			return esc(m.In(currentLang(args)))
		}
		return esc(fmt.Sprint(v))
	})
}

// currentLang is the language a nested Message argument is shown in; T
// passes it as the hidden argument "\x00lang".
func currentLang(args []any) string {
	if l, ok := arg(args, "\x00lang").(string); ok {
		return l
	}
	return Default
}

// T is the sentence key in lang with args (name, value pairs), as plain
// text. An argument may itself be a Message, shown in lang.
func T(lang, key string, args ...any) string {
	if len(args) > 0 {
		args = append(slices.Clip(args), "\x00lang", lang)
	}
	s := lookup(lang, key, args)
	if strings.IndexByte(s, '<') >= 0 {
		s = plain.Replace(s)
	}
	if strings.IndexByte(s, '{') < 0 {
		return s // no placeholder: format would return it as it is
	}
	return format(s, args, func(s string) string { return s })
}

// plain removes a sentence's markup for T (a Replacer is safe for
// concurrent use, and building one costs more than a page's lookups).
var plain = strings.NewReplacer("<strong>", "", "</strong>", "", "<code>", "", "</code>", "")

var markup = strings.NewReplacer("&lt;strong&gt;", "<strong>", "&lt;/strong&gt;", "</strong>",
	"&lt;code&gt;", "<code>", "&lt;/code&gt;", "</code>")

// HTML is the sentence key in lang with args, as HTML: the sentence's
// <strong> and <code> are kept, everything else (the arguments too) is
// escaped.
func HTML(lang, key string, args ...any) template.HTML {
	args = append(slices.Clip(args), "\x00lang", lang)
	s := markup.Replace(template.HTMLEscapeString(lookup(lang, key, args)))
	return template.HTML(format(s, args, template.HTMLEscapeString)) //nolint:gosec // escaped above
}

// Name is the name of lang in lang itself, for the language switch.
func Name(lang string) string { return T(lang, "language.name") }

// Keys returns the keys of lang's catalog, sorted (for tests and tools).
func Keys(lang string) []string {
	var keys []string
	for k := range catalog(lang) {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Forms returns the sentences of key in lang by plural form ("" for a
// sentence that is not a plural), or nil when lang lacks key (for tests
// and tools).
func Forms(lang, key string) map[string]string {
	e, ok := catalog(lang)[key]
	switch {
	case !ok:
		return nil
	case e.Forms != nil:
		return e.Forms
	}
	return map[string]string{"": e.Text}
}

// Placeholders returns the {names} in s, sorted and without repeats.
func Placeholders(s string) []string {
	p := placeholderRE.FindAllString(s, -1)
	slices.Sort(p)
	return slices.Compact(p)
}
