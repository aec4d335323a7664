package server

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"

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
	// post
	ACSURL, SAMLResponse, RelayState string
	// account page
	Account *accountView
	// Prefix is where the sign-in forms post: "" (the public pages) or
	// the admin console's prefix.
	Prefix string
	// Console is the admin console's frame and page (console.go).
	Console *consoleView
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
	for _, name := range consolePageNames {
		t, err := template.Must(base.Clone()).Funcs(consoleFuncs).ParseFS(web.Templates, "templates/console/frame.html", "templates/console/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse template console/%s: %w", name, err)
		}
		pages["console/"+name] = t
	}
	return pages, nil
}

// render executes a page into a buffer first, so a template error never
// leaves half a page behind.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.Dev, p.DevData = s.cfg.Dev, s.cfg.DevData
	p.Brand = s.brandView()
	p.RequestID = requestIDFrom(r.Context())
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "base", p); err != nil {
		s.log.ErrorContext(r.Context(), "render template", "template", name, "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

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
	s.render(w, r, http.StatusOK, "post", p)
}
