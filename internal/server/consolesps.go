package server

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/i18n"

	"github.com/go-chi/chi/v5"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/users"
)

// The console's Service providers pages (owners: accounts.ManageSPs, a
// sensitive permission, so every change asks for a recent proof). Adding
// Flex from its ACS URL is accounts.FlexSP, the CLI's add-flex rule; the
// settings form is read by accounts.SPSettings, the CLI's flags' reader.

// spAddForm is the "Add Flex" form, kept when it is refused.
type spAddForm struct{ Name, ACS, Audience, DisplayName string }

// spListView is the list of service providers and the add form.
type spListView struct {
	SPs   []sp.ServiceProvider
	Add   spAddForm
	Error string
}

func (s *Server) spList(w http.ResponseWriter, r *http.Request, status int, add spAddForm, msg string) {
	list, err := s.acct.ListSPs(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.consoleRender(w, r, status, "sps", "Service providers", spListView{SPs: list, Add: add, Error: msg})
}

// consoleSPs lists the service providers.
func (s *Server) consoleSPs(w http.ResponseWriter, r *http.Request) {
	s.spList(w, r, http.StatusOK, spAddForm{Name: "flex"}, "")
}

// consoleSPAdd registers a Flex account from its ACS URL.
func (s *Server) consoleSPAdd(w http.ResponseWriter, r *http.Request) {
	f := spAddForm{Name: strings.TrimSpace(r.PostFormValue("name")), ACS: strings.TrimSpace(r.PostFormValue("acs")),
		Audience: strings.TrimSpace(r.PostFormValue("audience")), DisplayName: strings.TrimSpace(r.PostFormValue("display_name"))}
	p, _, err := accounts.FlexSP(f.Name, f.ACS, f.Audience)
	if err == nil {
		err = accounts.SPSettings{DisplayName: &f.DisplayName}.Apply(&p)
	}
	if err == nil {
		p, err = s.acct.CreateSP(r.Context(), s.consoleActor(r), p)
	}
	if s.formRefused(w, r, err, func(status int, msg string) { s.spList(w, r, status, f, msg) }) {
		return
	}
	consoleDone(w, r, spPath(p.Name), "sp-added")
}

func spPath(name string) string { return consolePrefix + "/sps/" + url.PathEscape(name) }

// spForm is the settings form of a service provider, as text.
type spForm struct {
	DisplayName, DefaultRedirectURL, SLOURL, SigningCertificate  string
	Release, Withhold, Static, DefaultRoles, RolesFormat, NameID string
	SessionNotOnOrAfter                                          string
	AssignmentRequired, RequireSigned                            bool
}

// formOf is the form showing p's settings.
func formOf(p sp.ServiceProvider) spForm {
	f := spForm{DisplayName: p.DisplayName, DefaultRedirectURL: p.DefaultRedirectURL, SLOURL: p.SLOURL,
		SigningCertificate: p.SigningCertificatePEM, Release: strings.Join(p.Policy.Release, ", "),
		Withhold: strings.Join(p.Policy.Withhold, ", "), DefaultRoles: strings.Join(p.Policy.DefaultRoles, ", "),
		RolesFormat: p.Policy.RolesFormat, NameID: p.Policy.NameID,
		AssignmentRequired: p.AssignmentRequired, RequireSigned: !p.AllowUnsignedRequests}
	var static []string
	for _, n := range p.Policy.Static.Names() {
		static = append(static, n+"="+p.Policy.Static[n].String())
	}
	f.Static = strings.Join(static, "; ")
	if p.SessionNotOnOrAfter > 0 {
		f.SessionNotOnOrAfter = p.SessionNotOnOrAfter.String()
	}
	return f
}

// postedForm reads the settings form of r.
func postedForm(r *http.Request) spForm {
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	return spForm{DisplayName: v("display_name"), DefaultRedirectURL: v("default_redirect_url"), SLOURL: v("slo_url"),
		SigningCertificate: r.PostFormValue("signing_certificate"), Release: v("release"), Withhold: v("withhold"),
		Static: v("static"), DefaultRoles: v("default_roles"), RolesFormat: v("roles_format"), NameID: v("name_id"),
		SessionNotOnOrAfter: v("session_not_on_or_after"),
		AssignmentRequired:  r.PostFormValue("assignment_required") == "on", RequireSigned: r.PostFormValue("require_signed") == "on"}
}

// settings is the form as the service reads it: every setting given.
func (f spForm) settings() (accounts.SPSettings, error) {
	var d time.Duration
	if f.SessionNotOnOrAfter != "" {
		var err error
		if d, err = time.ParseDuration(f.SessionNotOnOrAfter); err != nil || d < 0 {
			return accounts.SPSettings{}, &accounts.Error{Code: accounts.Invalid,
				Message: "Session lifetime sent to the SP: " + f.SessionNotOnOrAfter + " is not a duration such as 8h (or leave it empty)."}
		}
	}
	return accounts.SPSettings{DisplayName: &f.DisplayName, DefaultRedirectURL: &f.DefaultRedirectURL, SLOURL: &f.SLOURL,
		SigningCertificatePEM: &f.SigningCertificate, Release: &f.Release, Withhold: &f.Withhold, Static: &f.Static,
		DefaultRoles: &f.DefaultRoles, RolesFormat: &f.RolesFormat, NameID: &f.NameID, SessionNotOnOrAfter: &d,
		AssignmentRequired: &f.AssignmentRequired, RequireSignedRequests: &f.RequireSigned}, nil
}

// certView is one registered request-signing certificate.
type certView struct {
	Subject string
	Expires time.Time
}

// previewView is what an SP would receive about a user.
type previewView struct {
	User       string
	Draft      bool
	NameID     string
	Attributes []attributes.Attribute
	Unassigned bool
	Error      string
}

// spPageView is one service provider's page.
type spPageView struct {
	SP        sp.ServiceProvider
	Label     string
	Form      spForm
	Signing   string
	Certs     []certView
	Assignees []users.User
	More      bool
	Error     string
	Preview   *previewView
	// PreviewUser fills the preview's user field.
	PreviewUser string
}

// spPage shows p with the form f (the stored settings, or those posted).
func (s *Server) spPage(w http.ResponseWriter, r *http.Request, status int, p sp.ServiceProvider, f spForm, msg string, pv *previewView) {
	v := spPageView{SP: p, Label: p.Label(), Form: f, Signing: accounts.SigningNote(p), Error: msg, Preview: pv}
	for _, der := range p.SigningCertificates() {
		if c, err := x509.ParseCertificate(der); err == nil {
			v.Certs = append(v.Certs, certView{Subject: c.Subject.String(), Expires: c.NotAfter.UTC()})
		}
	}
	if pv != nil {
		v.PreviewUser = pv.User
	}
	var err error
	if v.Assignees, v.More, err = s.acct.Assignees(r.Context(), p.Name); err != nil {
		s.fail(w, r, err)
		return
	}
	s.consoleRender(w, r, status, "sp", "Service provider "+p.Label(), v)
}

// previewOf works out what p (saved, or a draft) sends about the user.
func (s *Server) previewOf(r *http.Request, userRef string, p sp.ServiceProvider, draft bool) (*previewView, error) {
	pv := &previewView{User: userRef, Draft: draft}
	var res accounts.Preview
	var err error
	if draft {
		res, err = s.acct.PreviewDraft(r.Context(), userRef, p)
	} else {
		res, err = s.acct.PreviewRelease(r.Context(), userRef, p.Name)
	}
	if accounts.ErrorCode(err) != "" {
		pv.Error = err.Error()
		return pv, nil
	} else if err != nil {
		return nil, err
	}
	pv.NameID, pv.Attributes, pv.Unassigned = res.Released.NameID, res.Released.Attributes, res.Unassigned
	return pv, nil
}

// consoleSP shows a service provider's settings; ?preview=EMAIL adds what
// its saved settings send about that user.
func (s *Server) consoleSP(w http.ResponseWriter, r *http.Request) {
	p, err := s.acct.GetSP(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var pv *previewView
	if who := strings.TrimSpace(r.URL.Query().Get("preview")); who != "" {
		if pv, err = s.previewOf(r, who, p, false); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.spPage(w, r, http.StatusOK, p, formOf(p), "", pv)
}

// consoleSPSave saves the settings form, or (the Preview button) shows
// what the settings as typed would send about a user, saving nothing.
func (s *Server) consoleSPSave(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	stored, err := s.acct.GetSP(r.Context(), name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f := postedForm(r)
	showForm := func(status int, msg string) { s.spPage(w, r, status, stored, f, msg, nil) }
	o, err := f.settings()
	if r.PostFormValue("action") == "preview" {
		draft := stored
		if err == nil {
			err = o.Apply(&draft)
		}
		if s.formRefused(w, r, err, showForm) {
			return
		}
		pv, err := s.previewOf(r, strings.TrimSpace(r.PostFormValue("preview_user")), draft, true)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.spPage(w, r, http.StatusOK, stored, f, "", pv)
		return
	}
	if err == nil {
		_, err = s.acct.UpdateSP(r.Context(), s.consoleActor(r), name, o.Apply)
	}
	if s.formRefused(w, r, err, showForm) {
		return
	}
	consoleDone(w, r, spPath(name), "sp-saved")
}

// maxCertificateFile bounds an uploaded certificate file (a PEM bundle of
// a few certificates).
const maxCertificateFile = 64 << 10

// consoleSPCertificate registers the request-signing certificate(s) of an
// uploaded PEM file, checked as a pasted one is (accounts.SPSettings,
// sp.Validate); the other settings stay as they are.
func (s *Server) consoleSPCertificate(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	stored, err := s.acct.GetSP(r.Context(), name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	showForm := func(status int, msg string) { s.spPage(w, r, status, stored, formOf(stored), msg, nil) }
	file, _, err := r.FormFile("certificate")
	if err != nil {
		showForm(http.StatusBadRequest, "Choose a certificate file (PEM) to upload.")
		return
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, maxCertificateFile+1))
	switch {
	case err != nil:
		s.fail(w, r, err)
		return
	case len(data) > maxCertificateFile:
		showForm(http.StatusRequestEntityTooLarge, fmt.Sprintf("The certificate file is larger than %d KiB: it is not a PEM certificate.", maxCertificateFile>>10))
		return
	case len(bytes.TrimSpace(data)) == 0:
		showForm(http.StatusBadRequest, "The certificate file is empty.")
		return
	}
	pem := string(data)
	_, err = s.acct.UpdateSP(r.Context(), s.consoleActor(r), name, accounts.SPSettings{SigningCertificatePEM: &pem}.Apply)
	if s.formRefused(w, r, err, showForm) {
		return
	}
	consoleDone(w, r, spPath(name), "sp-saved")
}

// consoleSPAssign assigns a user (by email or ID) to the SP, or removes
// the assignment.
func (s *Server) consoleSPAssign(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	assign := r.PostFormValue("action") != "unassign"
	err := s.acct.Assign(r.Context(), s.consoleActor(r), strings.TrimSpace(r.PostFormValue("user")), name, assign)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	done := "assigned"
	if !assign {
		done = "unassigned"
	}
	consoleDone(w, r, spPath(name), done)
}

// consoleSPRemovePage asks to confirm the removal.
func (s *Server) consoleSPRemovePage(w http.ResponseWriter, r *http.Request) {
	p, err := s.acct.GetSP(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.consoleRender(w, r, http.StatusOK, "spremove", "Remove "+p.Label()+"?", &p)
}

// consoleSPRemove removes the SP once its name is typed again.
func (s *Server) consoleSPRemove(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	if r.PostFormValue("confirm") != name {
		s.fail(w, r, &Error{Status: http.StatusBadRequest, Message: i18n.Raw("Type the service provider's name to confirm its removal. Nothing was removed.")})
		return
	}
	if err := s.acct.RemoveSP(r.Context(), s.consoleActor(r), name); err != nil {
		s.fail(w, r, err)
		return
	}
	consoleDone(w, r, consolePrefix+"/sps", "sp-removed")
}

// consoleSPRoutes mounts the Service providers pages (accounts.ManageSPs).
func (s *Server) consoleSPRoutes(r chi.Router) {
	r.Route("/sps", func(r chi.Router) {
		r.Use(s.can(accounts.ManageSPs))
		r.Get("/", s.consoleSPs)
		r.Post("/", s.consoleSPAdd)
		r.Get("/{name}", s.consoleSP)
		r.Post("/{name}", s.consoleSPSave)
		r.Post("/{name}/assign", s.consoleSPAssign)
		r.Post("/{name}/certificate", s.consoleSPCertificate)
		r.Get("/{name}/remove", s.consoleSPRemovePage)
		r.Post("/{name}/remove", s.consoleSPRemove)
	})
}
