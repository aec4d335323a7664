package server

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"sync"

	"github.com/flexidp/flexidp/web"
)

// page is the data every template receives.
type page struct {
	Title     string
	Dev       bool
	DevData   string
	RequestID string
	CSRF      string
	Brand     brandView

	// error
	Message, Hint string
	// login
	Error, Email, State, SPName string
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
	// post
	ACSURL, SAMLResponse, RelayState string
	// account page
	Account *accountView
}

type app struct{ Name, Label, EntityID string }

func parsePages() (map[string]*template.Template, error) {
	base, err := template.ParseFS(web.Templates, "templates/base.html")
	if err != nil {
		return nil, fmt.Errorf("parse base template: %w", err)
	}
	pages := map[string]*template.Template{}
	for _, name := range []string{"login", "error", "launcher", "post", "loggedout", "logout",
		"mfa", "mfasetup", "recovery", "password", "notice", "forgot", "account"} {
		t, err := template.Must(base.Clone()).ParseFS(web.Templates, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
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
	buf := pageBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 1<<20 {
			buf.Reset()
			pageBuffers.Put(buf)
		}
	}()
	if err := s.pages[name].ExecuteTemplate(buf, "base", p); err != nil {
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

// renderPost renders the auto-submitting HTTP-POST binding form. The CSP
// allows posting to exactly the ACS URL's origin and nowhere else.
func (s *Server) renderPost(w http.ResponseWriter, r *http.Request, spName, acs, samlResponse, relayState string) {
	s.renderForm(w, r, page{Title: "Signing in", SPName: spName, ACSURL: acs, SAMLResponse: samlResponse, RelayState: relayState})
}

// renderForm renders p with the auto-POST template, allowing the form to
// post to p.ACSURL's origin only.
func (s *Server) renderForm(w http.ResponseWriter, r *http.Request, p page) {
	u, err := url.Parse(p.ACSURL)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Security-Policy", csp("'self' "+u.Scheme+"://"+u.Host))
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
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return s != ""
}
