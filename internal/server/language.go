package server

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/i18n"
)

// langCookie remembers the language a person chose with the switch.
const langCookie = "lang"

// langCookieAge is how long the choice is remembered.
const langCookieAge = 365 * 24 * time.Hour

// language chooses the language of each request: the switch (a GET with
// ?lang=xx, remembered in a cookie), else the remembered choice, else
// Accept-Language; the handlers and the services read it from the
// context (i18n.FromContext). The switch answers with a redirect to the
// same address without the lang parameter, so a signed SAML query, a
// password link's token and the login state are passed on untouched, and
// no form, CSRF token or session is involved.
func (s *Server) language(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			if rest, chosen, ok := takeLang(r.URL.RawQuery); ok {
				if lang, known := i18n.Supported(chosen); known {
					s.setCookie(w, langCookie, lang, langCookieAge)
				}
				u := url.URL{Path: localPath(r.URL.Path), RawQuery: rest}
				w.Header().Set("Cache-Control", "no-store")
				http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(i18n.NewContext(r.Context(), s.requestLang(r))))
	})
}

// localPath is p as a path on this site: a path that starts with two
// slashes (or a backslash) would be read by browsers as another host
// ("//evil.example"), so the switch's redirect and links never carry one.
func localPath(p string) string {
	return "/" + strings.TrimLeft(p, "/\\")
}

// requestLang is the remembered choice, else the best match for
// Accept-Language.
func (s *Server) requestLang(r *http.Request) string {
	if c, err := r.Cookie(s.cookieName(langCookie)); err == nil {
		if lang, ok := i18n.Supported(c.Value); ok {
			return lang
		}
	}
	return i18n.Match(r.Header.Get("Accept-Language"))
}

// takeLang removes the lang parameters from a raw query, keeping the
// others exactly as sent (a signed HTTP-Redirect query is verified over
// its raw text), and returns the last lang value.
func takeLang(raw string) (rest, lang string, ok bool) {
	var kept []string
	for _, part := range strings.Split(raw, "&") {
		name, value, _ := strings.Cut(part, "=")
		if name != langCookie {
			if part != "" {
				kept = append(kept, part)
			}
			continue
		}
		v, err := url.QueryUnescape(value)
		if err == nil {
			lang = v
		}
		ok = true
	}
	return strings.Join(kept, "&"), lang, ok
}

// langLink is one language of the switch.
type langLink struct {
	Lang, Name, Href string
	Current          bool
}

// getPage is the page a form posted to path shows again when the reader
// switches language there: the switch is a link, so it cannot re-post
// the form. A sign-in for an SP keeps its SP (switchState): it starts
// again at the login page for that SP.
var getPage = map[string]string{
	"/login/mfa":               "/login",
	"/mfa/continue":            "/login",
	"/logout":                  "/login",
	"/saml/sso":                "/login",
	"/account/password":        "/account",
	"/account/recovery-codes":  "/account",
	"/account/sessions/revoke": "/account",
}

// langLinks are the links of the language switch on the page p answers
// r with: the same address (a page shown after a form: its page) with
// ?lang=.
func (s *Server) langLinks(r *http.Request, current string, p page) []langLink {
	return langLinksAt(s.langPrefix(r, p), current)
}

// langPrefix is the address the language switch's links on the page p
// answers r with share, up to their lang parameter: "path?" or
// "path?query&".
func (s *Server) langPrefix(r *http.Request, p page) string {
	u := url.URL{Path: localPath(r.URL.Path), RawQuery: r.URL.RawQuery}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		u.RawQuery = ""
		if p, ok := getPage[r.URL.Path]; ok {
			u.Path = p
		}
		if u.Path == "/password" && p.Token != "" {
			u.RawQuery = "token=" + url.QueryEscape(p.Token)
		}
		if state := s.switchState(p.State); state != "" {
			u.Path, u.RawQuery = "/login", "state="+url.QueryEscape(state)
		}
	}
	rest, _, _ := takeLang(u.RawQuery)
	if rest != "" {
		rest += "&"
	}
	return u.EscapedPath() + "?" + rest
}

// langLinksAt are the language switch's links to prefix (langPrefix)
// with each language, on a page in current.
func langLinksAt(prefix, current string) []langLink {
	links := make([]langLink, len(i18n.Languages))
	for i, l := range i18n.Languages {
		links[i] = langLink{Lang: l, Name: i18n.Name(l), Href: prefix + "lang=" + url.QueryEscape(l), Current: l == current}
	}
	return links
}

// switchState is the login state a language switch link carries from a
// page answering a form (state, as the form carries it): only the
// sign-in's SP request, never a verified password, a pending second
// factor or an enrolment secret, so the link holds nothing a URL should
// not. "" when there is no SP to keep.
func (s *Server) switchState(state string) string {
	st, err := s.decodeState(state)
	if err != nil || st.Req == nil && st.IdPInit == "" {
		return ""
	}
	v, err := s.encodeState(loginState{Req: st.Req, IdPInit: st.IdPInit})
	if err != nil {
		return ""
	}
	return v
}
