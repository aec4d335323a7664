package server_test

import (
	"html"
	"io/fs"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/flexidp/flexidp/internal/i18n"
	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/web"
)

// langTransport sends every request with an Accept-Language header, as
// a browser set to a language does.
type langTransport struct{ accept string }

func (l langTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if l.accept != "" {
		r.Header.Set("Accept-Language", l.accept)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// browserIn is a new browser whose language is accept.
func browserIn(t *testing.T, accept string) *samltest.Browser {
	t.Helper()
	b := samltest.NewBrowser(t)
	b.C.Transport = langTransport{accept}
	return b
}

var htmlLangRE = regexp.MustCompile(`<html lang="([^"]*)">`)

// pageLang is the lang attribute of a page.
func pageLang(body string) string {
	m := htmlLangRE.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// TestAcceptLanguage: with no choice remembered, the page is in the
// shipped language closest to Accept-Language (any Portuguese is
// Brazilian, any Spanish is Spanish, anything else English), and says so
// in <html lang>, Content-Language and Vary.
func TestAcceptLanguage(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	for _, c := range []struct{ accept, want string }{
		{"", "en"},
		{"en-GB,en;q=0.9", "en"},
		{"es-MX,es;q=0.9", "es"},
		{"pt-PT,pt;q=0.9,en;q=0.5", "pt-BR"},
		{"pt", "pt-BR"},
		{"fr-CA", "fr"},
		{"de-DE,de;q=0.9", "en"},
		{"de-DE,fr;q=0.4", "fr"},
	} {
		t.Run(c.accept, func(t *testing.T) {
			b := browserIn(t, c.accept)
			resp, err := b.C.Get(h.URL + "/login")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Content-Language"); got != c.want {
				t.Errorf("Content-Language %q, want %q", got, c.want)
			}
			if v := strings.Join(resp.Header.Values("Vary"), ","); !strings.Contains(v, "Accept-Language") || !strings.Contains(v, "Cookie") {
				t.Errorf("Vary %q lacks Accept-Language and Cookie", v)
			}
			_, body := b.Get(h.URL + "/login")
			if got := pageLang(body); got != c.want {
				t.Errorf("<html lang=%q>, want %q", got, c.want)
			}
			samltest.MustContain(t, body, html.EscapeString(i18n.T(c.want, "login.forgot")))
		})
	}
}

// TestLanguageSwitch: a link of the switch remembers the choice in a
// cookie and returns to the same address (the SAML query untouched, no
// form or CSRF token involved); the choice beats Accept-Language on every
// later page, a login form posted after it works, and an unknown
// language changes nothing.
func TestLanguageSwitch(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	b := browserIn(t, "es-ES")
	noFollow := *b.C
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	_, page := b.Get(h.URL + "/login")
	if pageLang(page) != "es" {
		t.Fatalf("first page in %q, want es", pageLang(page))
	}
	samltest.MustContain(t, page, `href="/login?lang=fr" lang="fr" hreflang="fr">Français</a>`)

	resp, err := noFollow.Get(h.URL + "/login?lang=fr")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("switch answered %d to %q, want 303 to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, page = b.Get(h.URL + "/login")
	if pageLang(page) != "fr" {
		t.Fatalf("after the switch, page in %q, want fr", pageLang(page))
	}
	// The login form still works (CSRF and state), and the answer is in
	// the chosen language.
	status, page := b.Login(h.URL, page, "agent@example.com", "wrong password")
	samltest.WantStatus(t, "wrong password after the switch", status, http.StatusUnauthorized, page)
	samltest.MustContain(t, page, html.EscapeString(i18n.T("fr", "login.bad_credentials")), `<html lang="fr">`)
	status, page = b.Login(h.URL, page, "agent@example.com", password)
	samltest.WantStatus(t, "sign-in after the switch", status, http.StatusOK, page)
	if pageLang(page) != "fr" {
		t.Errorf("launcher in %q, want fr", pageLang(page))
	}

	// An SP-initiated sign-in: the switch returns to the same signed query.
	redirect, _ := samltest.AuthnRedirect(t, samltest.FlexSP(t, h.URL), "relay", nil)
	u, _ := url.Parse(redirect)
	fresh := browserIn(t, "")
	nf := *fresh.C
	nf.CheckRedirect = noFollow.CheckRedirect
	resp, err = nf.Get(redirect + "&lang=pt-br")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := u.RequestURI(); resp.Header.Get("Location") != want {
		t.Fatalf("switch on the SSO page went to %q, want %q", resp.Header.Get("Location"), want)
	}
	_, page = fresh.Get(redirect)
	if pageLang(page) != "pt-BR" {
		t.Errorf("SSO login in %q, want pt-BR", pageLang(page))
	}
	samltest.MustContain(t, page, "&amp;lang=es", `name="state"`)

	// An unknown language: back to the page, nothing remembered.
	other := browserIn(t, "fr")
	_, page = other.Get(h.URL + "/password/forgot?lang=xx")
	if pageLang(page) != "fr" {
		t.Errorf("after ?lang=xx, page in %q, want fr (Accept-Language)", pageLang(page))
	}
}

// identical lists the catalog sentences that are the same words in
// English and another language: only they may appear on that language's
// pages. Keep it short and explicit.
var identical = map[string][]string{
	"es":    {"account.roles", "account.release_caption"},
	"pt-BR": {"account.release_caption"},
	"fr":    {"account.release_caption", "wait.minutes"},
}

var (
	placeholderOrTag = regexp.MustCompile(`\{[a-z_]+\}|</?[a-z]+>`)
	languagesNav     = regexp.MustCompile(`(?s)<nav class="languages".*?</nav>`)
	scriptOrTag      = regexp.MustCompile(`(?s)<script.*?</script>|<[^>]*>`)
)

// englishFragments are the English catalog's words that a page in lang
// must not show: each sentence cut at its placeholders and markup, each
// piece trimmed to letters at both ends.
func englishFragments(lang string) map[string]string {
	frags := map[string]string{}
	for _, key := range i18n.Keys("en") {
		if key == "language.name" || slices.Contains(identical[lang], key) {
			continue
		}
		for _, s := range i18n.Forms("en", key) {
			for _, f := range placeholderOrTag.Split(s, -1) {
				f = strings.TrimFunc(f, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
				if len([]rune(f)) >= 3 && f != "flexidp" {
					frags[f] = key
				}
			}
		}
	}
	return frags
}

// visibleText is what a person reads on a page (and hears: alt and
// aria-label), without the language switch, which names every language
// in itself.
func visibleText(body string) string {
	body = languagesNav.ReplaceAllString(body, "")
	var attrs []string
	for _, m := range regexp.MustCompile(`(?:alt|aria-label|title|placeholder)="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		attrs = append(attrs, m[1])
	}
	return html.UnescapeString(scriptOrTag.ReplaceAllString(body, "\n") + "\n" + strings.Join(attrs, "\n"))
}

// TestPagesHaveNoEnglish renders, in each language, the login page, the
// login page after a wrong password, the forgot-password page and an
// error page (an unknown application): none shows an English sentence of
// the catalog, each says its language in <html lang>, and each shows the
// language's own words.
func TestPagesHaveNoEnglish(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	for _, lang := range i18n.Languages[1:] {
		t.Run(lang, func(t *testing.T) {
			frags := englishFragments(lang)
			b := browserIn(t, lang)
			_, login := b.Get(h.URL + "/login")
			_, wrong := b.Login(h.URL, login, "agent@example.com", "wrong password")
			_, forgot := b.Get(h.URL + "/password/forgot")
			status, unknown := b.Get(h.URL + "/sso/idp/nope")
			samltest.WantStatus(t, "unknown SP", status, http.StatusNotFound, unknown)
			for _, p := range []struct{ name, body, want string }{
				{"login", login, i18n.T(lang, "action.sign_in")},
				{"wrong password", wrong, i18n.T(lang, "login.bad_credentials")},
				{"forgot password", forgot, i18n.T(lang, "forgot.submit")},
				{"unknown SP", unknown, i18n.T(lang, "error.no_app", "name", "nope")},
			} {
				if got := pageLang(p.body); got != lang {
					t.Errorf("%s: <html lang=%q>, want %q", p.name, got, lang)
				}
				text := visibleText(p.body)
				if !strings.Contains(text, p.want) {
					t.Errorf("%s: lacks %q:\n%s", p.name, p.want, text)
				}
				for f, key := range frags {
					if regexp.MustCompile(`\b` + regexp.QuoteMeta(f) + `\b`).MatchString(text) {
						t.Errorf("%s in %s shows English %q (%s):\n%s", p.name, lang, f, key, text)
					}
				}
			}
		})
	}
}

// TestTemplatesHaveNoLiterals scans every public template (not the
// console's): every text a person reads or hears (text nodes, and the
// title, aria-label, placeholder, alt and value attributes) comes from a
// template action (the catalog's t or th, or data), never a literal. Only
// non-words and the product's name are allowed. A hidden input's value is
// read by the server only (a form step's name), never by a person.
func TestTemplatesHaveNoLiterals(t *testing.T) {
	allowed := []string{"flexidp"}
	action := regexp.MustCompile(`(?s)\{\{.*?\}\}`)
	hidden := regexp.MustCompile(`<input type="hidden" name="[a-z_]+" value="[a-z_]*">`)
	attr := regexp.MustCompile(`\s(title|aria-label|placeholder|alt|value|label)="([^"]*)"`)
	names, err := fs.Glob(web.Templates, "templates/*.html")
	if err != nil || len(names) < 13 {
		t.Fatalf("templates: %v %v", names, err)
	}
	hasWord := func(s string) bool {
		s = strings.TrimSpace(s)
		if s == "" || slices.Contains(allowed, s) {
			return false
		}
		return strings.IndexFunc(s, unicode.IsLetter) >= 0
	}
	for _, name := range names {
		b, err := fs.ReadFile(web.Templates, name)
		if err != nil {
			t.Fatal(err)
		}
		src := hidden.ReplaceAllString(action.ReplaceAllString(string(b), "\x00"), "")
		for _, m := range attr.FindAllStringSubmatch(src, -1) {
			if v := strings.ReplaceAll(m[2], "\x00", " "); hasWord(v) {
				t.Errorf("%s: %s=%q is a literal, not from the catalog", name, m[1], m[2])
			}
		}
		for _, text := range scriptOrTag.Split(src, -1) {
			for _, piece := range strings.Split(text, "\x00") {
				if hasWord(piece) {
					t.Errorf("%s: text %q is a literal, not from the catalog", name, strings.TrimSpace(piece))
				}
			}
		}
	}
}

// TestForgotEmailInReadersLanguage: the reset email is in the language of
// the page that asked for it.
func TestForgotEmailInReadersLanguage(t *testing.T) {
	mail := startSMTP(t)
	h := newTestIdP(t, idpOptions{Mailer: mail})
	// Three users: a fourth request for one within the hour is throttled.
	for _, c := range []struct{ accept, lang, email string }{
		{"fr-FR", "fr", "agent@example.com"}, {"pt-PT", "pt-BR", "sam.supervisor@example.com"},
		{"es", "es", "norole@example.com"}, {"", "en", "agent@example.com"},
	} {
		b := browserIn(t, c.accept)
		_, form := b.Get(h.URL + "/password/forgot")
		status, body := b.Post(h.URL+"/password/forgot", url.Values{"csrf": {samltest.HiddenFields(form)["csrf"]}, "email": {c.email}})
		samltest.WantStatus(t, "forgot "+c.lang, status, http.StatusOK, body)
		samltest.MustContain(t, body, html.EscapeString(i18n.T(c.lang, "forgot.sent")))
		h.Accounts.WaitMail()
		var msg string
		select {
		case msg = <-mail.Got:
		default:
			t.Fatalf("%s: no email sent", c.lang)
		}
		samltest.MustContain(t, msg, "Subject: "+i18n.T(c.lang, "email.reset_subject"), i18n.T(c.lang, "email.reset_intro"),
			i18n.T(c.lang, "email.ignore"))
	}
}

// TestLanguageSwitchStaysOnSite: the switch's redirect and links name a
// path of this site, never another host, whatever the address asked.
func TestLanguageSwitchStaysOnSite(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	for _, path := range []string{"//evil.example/x", "/\\evil.example", "///evil.example"} {
		req, _ := http.NewRequest(http.MethodGet, h.URL+"/", nil)
		req.URL.Path, req.URL.RawQuery = path, "lang=fr"
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/") ||
			strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") {
			t.Errorf("GET %s?lang=fr: %d to %q, want 303 to a path of this site", path, resp.StatusCode, loc)
		}
		req.URL.RawQuery = ""
		status, body := samltest.NewBrowser(t).Do(req)
		samltest.WantStatus(t, path, status, http.StatusNotFound, body)
		if strings.Contains(body, `href="//`) || strings.Contains(body, `href="/\`) {
			t.Errorf("GET %s: the switch links to another host:\n%s", path, body)
		}
	}
}

// TestLanguageSwitchKeepsSignIn: on the login page answering a wrong
// password for an SP, the switch keeps the sign-in for that SP: its link
// shows the login page for the same SP in the new language, and signing
// in there answers the SP.
func TestLanguageSwitchKeepsSignIn(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	b := browserIn(t, "en")
	page, _ := b.StartSignIn(samltest.FlexSP(t, h.URL))
	status, page := b.Login(h.URL, page, "agent@example.com", "wrong password")
	samltest.WantStatus(t, "wrong password", status, http.StatusUnauthorized, page)
	m := regexp.MustCompile(`href="(/login\?state=[^"]+)" lang="fr"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no switch link keeping the sign-in:\n%s", page)
	}
	_, page = b.Get(h.URL + html.UnescapeString(m[1]))
	if pageLang(page) != "fr" {
		t.Fatalf("after the switch, page in %q, want fr:\n%s", pageLang(page), page)
	}
	samltest.MustContain(t, page, string(i18n.HTML("fr", "login.continue_to", "sp", "flex")))
	status, page = b.Login(h.URL, page, "agent@example.com", password)
	samltest.WantStatus(t, "sign-in after the switch", status, http.StatusOK, page)
	samltest.MustContain(t, page, `name="SAMLResponse"`, `<html lang="fr">`)

	// A state that is not flexidp's is refused with a sentence.
	status, page = browserIn(t, "fr").Get(h.URL + "/login?state=forged.state")
	samltest.WantStatus(t, "forged state", status, http.StatusBadRequest, page)
	samltest.MustContain(t, page, html.EscapeString(i18n.T("fr", "error.bad_state")))
}

// TestAutoPostPageHasNoLanguageSwitch: the page that posts a Response
// has no language switch. Its links could only send the request it
// answers again, and that is refused as answered already (409): they led
// a person without JavaScript from "Continue" to an error page.
func TestAutoPostPageHasNoLanguageSwitch(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	flex := samltest.FlexSP(t, h.URL)
	b := browserIn(t, "fr")
	b.SignIn(flex, h.URL, "agent@example.com", password)
	redirect, _ := samltest.AuthnRedirect(t, flex, "", nil)
	status, page := b.Get(redirect)
	samltest.WantStatus(t, "SSO within the session", status, http.StatusOK, page)
	samltest.MustContain(t, page, `name="SAMLResponse"`)
	if pageLang(page) != "fr" {
		t.Errorf("auto-POST page in %q, want fr", pageLang(page))
	}
	if strings.Contains(page, "hreflang") || strings.Contains(page, "?lang=") || strings.Contains(page, "&amp;lang=") {
		t.Errorf("the auto-POST page has language links:\n%s", page)
	}
}
