package server

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/i18n"
	"github.com/flexidp/flexidp/internal/saml"
	"github.com/flexidp/flexidp/internal/users"
	"github.com/flexidp/flexidp/web"
)

// page is the data every template receives.
type page struct {
	// Title is the catalog key of the page's title.
	Title string
	// Lang is the language of the page; Langs the language switch.
	Lang      string
	Langs     []langLink
	Dev       bool
	DevData   string
	RequestID string
	CSRF      string
	Brand     brandView

	// error
	Message, Hint string
	// login; EmailFirst asks only for the email (sources are configured),
	// Source names the source whose password is asked for
	Error, Email, State, SPName string
	EmailFirst                  bool
	Source                      string
	// Providers are the OpenID Connect sources: "Continue with <name>".
	Providers []string
	// launcher
	Apps  []app
	MFAOn bool
	// MFA enrolment: the QR code (a data: URI), the secret to type by
	// hand, and the recovery codes shown once.
	QR      template.URL
	Secret  string
	Codes   []string
	Pending bool
	// password link
	Token string
	// forgot password: the answer is shown; no mailer is set
	Sent, NoMailer bool
	// post; a Response's page has its document in message, base64-encoded
	// into the page in place of SAMLResponse (writePost, executeForm)
	ACSURL, SAMLResponse, RelayState string
	message                          []byte
	// account page
	Account *accountView
	// Passkey is the passkey ceremony the page offers, if any; NoCode
	// hides the code form of the second step (a role requires a passkey).
	Passkey *passkeyView
	NoCode  bool
	// Prefix is where the sign-in forms post: "" (the public pages) or
	// the admin console's prefix.
	Prefix string
	// Console is the admin console's frame and page (console.go).
	Console *consoleView
}

type app struct{ Name, Label, EntityID string }

// pageNames are the public pages, each a template in web/templates.
var pageNames = []string{"login", "error", "launcher", "post", "loggedout", "logout",
	"mfa", "mfasetup", "recovery", "password", "notice", "forgot", "account", "passkey"}

// templateFuncs are the functions of the templates in lang: t (a
// catalog sentence as text) and th (one with its <strong> or <code>).
func templateFuncs(lang string) template.FuncMap {
	return template.FuncMap{
		"t":      func(key string, args ...any) string { return i18n.T(lang, key, args...) },
		"th":     func(key string, args ...any) template.HTML { return i18n.HTML(lang, key, args...) },
		"source": func(src string) string { return sourceText(lang, src) },
	}
}

// sourceText is where a released value came from (accounts.Preview.Source:
// "user", "group Sales-ES", the SP, joined by ", "; group names have no
// comma) in lang.
func sourceText(lang, src string) string {
	if src == "" {
		return ""
	}
	parts := strings.Split(src, ", ")
	for i, p := range parts {
		switch {
		case p == users.SourceUser:
			parts[i] = i18n.T(lang, "source.user")
		case p == accounts.SourceSP:
			parts[i] = i18n.T(lang, "source.sp")
		case p == accounts.SourceSP+" (default roles)":
			parts[i] = i18n.T(lang, "source.sp_default")
		case strings.HasPrefix(p, users.GroupSource("")):
			parts[i] = i18n.T(lang, "source.group", "group", strings.TrimPrefix(p, users.GroupSource("")))
		}
	}
	return strings.Join(parts, ", ")
}

// pageSet is every page in every language, each public page parsed on
// its first use in its language, the console's pages together on the
// console's first use. At start every public page of the default
// language is parsed once to be checked (a page that does not parse
// stops the server there) and dropped: the other languages are the same
// files with their own functions, so they parse too. A server holds the
// pages its readers were shown (sign-in is two or three of the fourteen),
// not every page of every language (about 0.5 MiB a language, 1.2 MiB
// the console).
type pageSet struct {
	langs   map[string]map[string]func() (*template.Template, error)
	console func() (map[string]*template.Template, error)
	// parsed counts the public pages parsed and kept (tests).
	parsed *atomic.Int64
}

// parsePages returns the pageSet, the default language's pages checked.
func parsePages() (pageSet, error) {
	if err := checkLanguage(i18n.Default); err != nil {
		return pageSet{}, err
	}
	ps := pageSet{langs: map[string]map[string]func() (*template.Template, error){}, parsed: new(atomic.Int64)}
	for _, lang := range i18n.Languages {
		base := sync.OnceValues(func() (*template.Template, error) { return parseBase(lang) })
		pages := map[string]func() (*template.Template, error){}
		for _, name := range pageNames {
			pages[name] = sync.OnceValues(func() (*template.Template, error) {
				b, err := base()
				if err != nil {
					return nil, err
				}
				ps.parsed.Add(1)
				return parsePage(b, name)
			})
		}
		ps.langs[lang] = pages
	}
	// The console is in English (its pages are not in the catalog yet):
	// its pages exist in the default language.
	ps.console = sync.OnceValues(parseConsole)
	return ps, nil
}

// page is the page name ("console/…" for the console's) in lang.
func (ps pageSet) page(lang, name string) (*template.Template, error) {
	if strings.HasPrefix(name, "console/") {
		pages, err := ps.console()
		if err != nil {
			return nil, err
		}
		if t := pages[name]; t != nil {
			return t, nil
		}
		return nil, fmt.Errorf("no page %q", name)
	}
	pages, ok := ps.langs[lang]
	if !ok {
		return nil, fmt.Errorf("no pages in language %q", lang)
	}
	parse, ok := pages[name]
	if !ok {
		return nil, fmt.Errorf("no page %q", name)
	}
	return parse()
}

// parseBase parses the layout every page of lang is built on.
func parseBase(lang string) (*template.Template, error) {
	base, err := template.New("base.html").Funcs(templateFuncs(lang)).ParseFS(web.Templates, "templates/base.html")
	if err != nil {
		return nil, fmt.Errorf("parse base template: %w", err)
	}
	return base, nil
}

// parsePage parses the public page name on a copy of its language's
// layout.
func parsePage(base *template.Template, name string) (*template.Template, error) {
	c, err := base.Clone()
	if err != nil {
		return nil, fmt.Errorf("parse template %s: %w", name, err)
	}
	t, err := c.ParseFS(web.Templates, "templates/"+name+".html", "templates/ceremony.html")
	if err != nil {
		return nil, fmt.Errorf("parse template %s: %w", name, err)
	}
	return t, nil
}

// checkLanguage parses every public page in lang and keeps none.
func checkLanguage(lang string) error {
	base, err := parseBase(lang)
	if err != nil {
		return err
	}
	for _, name := range pageNames {
		if _, err := parsePage(base, name); err != nil {
			return err
		}
	}
	return nil
}

// parseConsole parses the console's pages: pages["console/"+name].
func parseConsole() (map[string]*template.Template, error) {
	base, err := parseBase(i18n.Default)
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, name := range consolePageNames {
		t, err := template.Must(base.Clone()).Funcs(consoleFuncs).ParseFS(web.Templates, "templates/console/frame.html", "templates/console/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse template console/%s: %w", name, err)
		}
		pages["console/"+name] = t
	}
	return pages, nil
}

// tr is the catalog sentence key, with args, in the language of r.
func tr(r *http.Request, key string, args ...any) string {
	return i18n.T(i18n.FromContext(r.Context()), key, args...)
}

// render executes a page into a buffer first, so a template error never
// leaves half a page behind.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	_ = s.renderWith(w, r, status, name, p, "")
}

// renderWith is render; when message is set, it is written in place of
// messageMark, which the executed page must hold exactly once: else
// renderWith returns false and writes nothing.
func (s *Server) renderWith(w http.ResponseWriter, r *http.Request, status int, name string, p page, message string) bool {
	p.Dev, p.DevData = s.cfg.Dev, s.cfg.DevData
	p.Brand = s.brandView()
	p.RequestID = requestIDFrom(r.Context())
	p.Lang = i18n.FromContext(r.Context())
	switch {
	case p.Console != nil:
		// The console is English only (not in the catalog yet): no switch.
		p.Lang = i18n.Default
	case name == "post":
		// The auto-POST page posts the answer to a request: its links
		// could only send that request again, which is refused as
		// answered already (409). It has no switch.
	default:
		p.Langs = s.langLinks(r, p.Lang, p)
	}
	buf := pageBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 1<<20 {
			buf.Reset()
			pageBuffers.Put(buf)
		}
	}()
	t, err := s.pages.page(p.Lang, name)
	if err == nil {
		err = t.ExecuteTemplate(buf, "base", p)
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "render template", "template", name, "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return true
	}
	before, after := buf.Bytes(), []byte(nil)
	if message != "" {
		var ok bool
		if before, after, ok = bytes.Cut(before, []byte(messageMark)); !ok || bytes.Contains(after, []byte(messageMark)) {
			return false
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", p.Lang)
	w.Header().Add("Vary", "Accept-Language, Cookie")
	w.WriteHeader(status)
	_, _ = w.Write(before)
	if message != "" {
		_, _ = io.WriteString(w, message)
		_, _ = w.Write(after)
	}
	return true
}

// pageBuffers keeps the buffers pages are executed into.
var pageBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// renderPost renders the auto-submitting HTTP-POST binding form that
// carries resp, a successful or an error Response, solicited or not. The
// CSP allows posting to exactly the ACS URL's origin and nowhere else.
// The document is base64-encoded once, into the page itself.
func (s *Server) renderPost(w http.ResponseWriter, r *http.Request, spName string, resp *saml.Response) {
	s.renderForm(w, r, page{Title: "title.post", SPName: spName, ACSURL: resp.ACSURL, message: resp.XML, RelayState: resp.RelayState})
}

// renderForm renders p with the auto-POST template, allowing the form to
// post to p.ACSURL's origin only.
func (s *Server) renderForm(w http.ResponseWriter, r *http.Request, p page) {
	policy, err := postPolicy(p.ACSURL)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Security-Policy", policy)
	if !s.writePost(w, r, p) {
		s.executeForm(w, r, p)
	}
}

// postPolicy is the Content-Security-Policy of an auto-POST page to acs:
// form-action allows acs's origin only. The policies of the first
// maxPostPolicies addresses are kept, in a map replaced (not changed) on
// each addition: a Response goes to a registered ACS URL, the same few
// for every Response, and its policy is not worked out again each time.
func postPolicy(acs string) (string, error) {
	known := postPolicies.Load()
	if known != nil {
		if policy, ok := (*known)[acs]; ok {
			return policy, nil
		}
	}
	u, err := url.Parse(acs)
	if err != nil {
		return "", err
	}
	policy := csp("'self' " + u.Scheme + "://" + u.Host)
	if known == nil || len(*known) < maxPostPolicies {
		next := map[string]string{acs: policy}
		if known != nil {
			maps.Copy(next, *known)
		}
		postPolicies.CompareAndSwap(known, &next) // lost to another addition: added next time
	}
	return policy, nil
}

// postPolicies are the policies postPolicy keeps, by ACS URL.
var postPolicies atomic.Pointer[map[string]string]

// maxPostPolicies bounds postPolicies.
const maxPostPolicies = 256

// executeForm renders p with the auto-POST template: the pages
// writePost has no precompiled page for.
func (s *Server) executeForm(w http.ResponseWriter, r *http.Request, p page) {
	if p.message != nil {
		p.SAMLResponse, p.message = base64.StdEncoding.EncodeToString(p.message), nil
	}
	// The page is executed without the message, 8 KB of base64 that the
	// template would escape byte by byte for nothing (no base64 character
	// needs escaping in a quoted attribute), and the message is written in
	// its place. Anything else, or a page where the mark is not found
	// exactly once (a RelayState that holds it), goes through the
	// template.
	if msg := p.SAMLResponse; isBase64(msg) {
		p.SAMLResponse = messageMark
		if s.renderWith(w, r, http.StatusOK, "post", p, msg) {
			return
		}
		p.SAMLResponse = msg
	}
	s.render(w, r, http.StatusOK, "post", p)
}

// messageMark stands for the SAML message in the executed auto-POST page;
// the template leaves it as it is (letters and digits only).
const messageMark = "flexidpSAMLmessage0mark"

// isBase64 reports whether s is made only of standard base64 characters,
// none of which needs escaping in an HTML attribute value in quotes.
func isBase64(s string) bool {
	for i := 0; i < len(s); i++ {
		if !base64Chars[s[i]] {
			return false
		}
	}
	return s != ""
}

// base64Chars are the bytes of standard base64, padding included.
var base64Chars = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '='
	}
	return t
}()
