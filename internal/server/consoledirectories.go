package server

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/flexidp/flexidp/internal/accounts"
)

// The console's Directories pages (owners: accounts.ManageDirectories,
// sensitive): the directory sources people sign in through (LDAP /
// Active Directory, OpenID Connect), add one, change its settings, test
// its connection, remove it. The same service calls as idp directories;
// the bind password or client secret is write-only: sealed at rest by
// the service (accounts.Config.Secrets), never put back in a form.

// dirRow is one source as listed.
type dirRow struct {
	Name, Kind, Servers, Domains string
	HasSecret                    bool
}

// dirForm is a source's settings as a form shows them (never its secret).
type dirForm struct {
	Name, Kind, Domains, Groups                                  string
	URLs, CAPEM, BindDN, UserBase, UserFilter, LoginAttrs        string
	DisabledFilter, GroupBase, GroupFilter                       string
	MaxNesting, Timeout, PoolSize                                string
	StartTLS, AllowPlain                                         bool
	Issuer, ClientID, Scopes, GroupsClaim, RolesClaim, HasSecret string
}

// directoriesView is the Directories page.
type directoriesView struct {
	Sources []dirRow
}

// directoryView is one source's page, or (Adding) the form of a new one.
type directoryView struct {
	Form   dirForm
	Adding bool
	// Result is the sentence of a connection test; OK when it answered.
	Result, Error string
	OK            bool
}

func rowOfSource(src accounts.Source) dirRow {
	servers := strings.Join(src.LDAP.URLs, " ")
	if src.Kind == accounts.KindOIDC {
		servers = src.OIDC.Issuer
	}
	return dirRow{Name: src.Name, Kind: src.Kind, Servers: servers, Domains: strings.Join(src.Domains, ", "), HasSecret: src.HasPassword}
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// dirFormOf fills a form with src's settings.
func dirFormOf(src accounts.Source) dirForm {
	f := dirForm{Name: src.Name, Kind: src.Kind, Domains: strings.Join(src.Domains, ", ")}
	if src.HasPassword {
		f.HasSecret = "yes"
	}
	mapping := src.LDAP.Groups
	if src.Kind == accounts.KindOIDC {
		c := src.OIDC
		mapping = c.Groups
		f.Issuer, f.ClientID, f.Scopes, f.GroupsClaim, f.RolesClaim = c.Issuer, c.ClientID, strings.Join(c.Scopes, ", "), c.GroupsClaim, c.RolesClaim
		f.Timeout = itoa(c.TimeoutSeconds)
	} else {
		l := src.LDAP
		f.URLs, f.CAPEM, f.BindDN, f.UserBase, f.UserFilter = strings.Join(l.URLs, "\n"), l.CAPEM, l.BindDN, l.UserBase, l.UserFilter
		f.LoginAttrs, f.DisabledFilter, f.GroupBase, f.GroupFilter = strings.Join(l.LoginAttrs, ", "), l.DisabledFilter, l.GroupBase, l.GroupFilter
		f.MaxNesting, f.Timeout, f.PoolSize, f.StartTLS, f.AllowPlain = itoa(l.MaxNesting), itoa(l.TimeoutSeconds), itoa(l.PoolSize), l.StartTLS, l.AllowPlain
	}
	var lines []string
	for k, g := range mapping {
		lines = append(lines, k+" = "+g)
	}
	slices.Sort(lines)
	f.Groups = strings.Join(lines, "\n")
	return f
}

// dirPosted is the form as sent (for showing it again; no secret).
func dirPosted(r *http.Request, kind string) dirForm {
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	return dirForm{Name: v("name"), Kind: kind, Domains: v("domains"), Groups: v("groups"), URLs: v("urls"), CAPEM: v("ca_pem"),
		BindDN: v("bind_dn"), UserBase: v("user_base"), UserFilter: v("user_filter"), LoginAttrs: v("login_attributes"),
		DisabledFilter: v("disabled_filter"), GroupBase: v("group_base"), GroupFilter: v("group_filter"), MaxNesting: v("max_nesting"),
		Timeout: v("timeout"), PoolSize: v("pool_size"), StartTLS: v("start_tls") != "", AllowPlain: v("allow_plain") != "",
		Issuer: v("issuer"), ClientID: v("client_id"), Scopes: v("scopes"), GroupsClaim: v("groups_claim"), RolesClaim: v("roles_claim")}
}

// number reads a whole-number field; empty is 0 (the default).
func number(label, s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, &accounts.Error{Code: accounts.Invalid, Message: label + " is a whole number of 0 or more (got " + strconv.Quote(s) + ")."}
	}
	return n, nil
}

// applyForm copies the posted settings onto src, as idp directories set
// does with its flags: every field of the form replaces the setting (the
// group mapping too); the secret only when one is typed.
func applyForm(r *http.Request, src *accounts.Source) error {
	f := dirPosted(r, src.Kind)
	src.Domains = accounts.SplitList(f.Domains, ",")
	groups := map[string]string{}
	for _, line := range strings.Split(f.Groups, "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		i := strings.LastIndex(line, "=") // a DN holds '=' itself
		if i < 0 {
			return &accounts.Error{Code: accounts.Invalid, Message: "Each line of the group mapping is 'DIRECTORY GROUP = flexidp group' (got " + strconv.Quote(line) + ")."}
		}
		groups[strings.TrimSpace(line[:i])] = strings.TrimSpace(line[i+1:])
	}
	timeout, err := number("The timeout", f.Timeout)
	if err != nil {
		return err
	}
	if secret := r.PostFormValue("secret"); secret != "" {
		src.Password = secret
	}
	if src.Kind == accounts.KindOIDC {
		src.OIDC = accounts.OIDCSettings{Issuer: f.Issuer, ClientID: f.ClientID, Scopes: accounts.SplitList(f.Scopes, ","),
			GroupsClaim: f.GroupsClaim, RolesClaim: f.RolesClaim, TimeoutSeconds: timeout, Groups: groups}
		return nil
	}
	nesting, err := number("The maximum nesting", f.MaxNesting)
	if err != nil {
		return err
	}
	pool, err := number("The pool size", f.PoolSize)
	if err != nil {
		return err
	}
	ca := f.CAPEM
	if ca != "" {
		ca += "\n"
	}
	src.LDAP = accounts.LDAPSettings{URLs: strings.Fields(f.URLs), StartTLS: f.StartTLS, AllowPlain: f.AllowPlain, CAPEM: ca,
		BindDN: f.BindDN, UserBase: f.UserBase, UserFilter: f.UserFilter, LoginAttrs: accounts.SplitList(f.LoginAttrs, ","),
		DisabledFilter: f.DisabledFilter, GroupBase: f.GroupBase, GroupFilter: f.GroupFilter, MaxNesting: nesting,
		TimeoutSeconds: timeout, PoolSize: pool, Groups: groups}
	return nil
}

// refusedDir is a 4xx sentence to show on the form, or "" for a failure
// of the server (shown as an error page).
func refusedDir(err error) string {
	if accounts.ErrorCode(err) == "" {
		return ""
	}
	var e *accounts.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error() // a users.ValidationError: a sentence
}

// consoleDirectories lists the sources; with ?add=ldap or ?add=oidc it
// is the form of a new source of that kind.
func (s *Server) consoleDirectories(w http.ResponseWriter, r *http.Request) {
	if kind := r.URL.Query().Get("add"); kind == accounts.KindLDAP || kind == accounts.KindOIDC {
		title := map[string]string{accounts.KindLDAP: "Add an LDAP or Active Directory source", accounts.KindOIDC: "Add an OpenID Connect source"}[kind]
		s.consoleRender(w, r, http.StatusOK, "directory", title, directoryView{Adding: true, Form: dirForm{Kind: kind}})
		return
	}
	list, err := s.acct.ListDirectories(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var v directoriesView
	for _, src := range list {
		v.Sources = append(v.Sources, rowOfSource(src))
	}
	s.consoleRender(w, r, http.StatusOK, "directories", "Directories", v)
}

// consoleDirectoryAdd adds an LDAP or OIDC source (the form's kind).
func (s *Server) consoleDirectoryAdd(w http.ResponseWriter, r *http.Request) {
	kind := r.PostFormValue("kind")
	if kind != accounts.KindOIDC {
		kind = accounts.KindLDAP
	}
	src := accounts.Source{Name: strings.TrimSpace(r.PostFormValue("name")), Kind: kind}
	err := applyForm(r, &src)
	if err == nil {
		_, err = s.acct.AddDirectory(r.Context(), s.consoleActor(r), src)
	}
	if err != nil {
		msg := refusedDir(err)
		if msg == "" {
			s.fail(w, r, err)
			return
		}
		s.consoleRender(w, r, toError(err).Status, "directory", "Add a source", directoryView{Adding: true, Form: dirPosted(r, kind), Error: msg})
		return
	}
	consoleDone(w, r, consolePrefix+"/directories/"+url.PathEscape(src.Name), "dir-added")
}

// consoleDirectory shows one source with its forms.
func (s *Server) consoleDirectory(w http.ResponseWriter, r *http.Request) {
	src, err := s.acct.GetDirectory(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.consoleRender(w, r, http.StatusOK, "directory", "Source "+src.Name, directoryView{Form: dirFormOf(src)})
}

// consoleDirectorySave changes a source's settings.
func (s *Server) consoleDirectorySave(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	_, err := s.acct.UpdateDirectory(r.Context(), s.consoleActor(r), name, func(src *accounts.Source) error {
		return applyForm(r, src)
	})
	if err != nil {
		s.refuseDirectory(w, r, name, err, true)
		return
	}
	consoleDone(w, r, consolePrefix+"/directories/"+url.PathEscape(name), "dir-saved")
}

// refuseDirectory shows the source's page again with the refusal (and,
// with posted, the settings as sent).
func (s *Server) refuseDirectory(w http.ResponseWriter, r *http.Request, name string, err error, posted bool) {
	msg := refusedDir(err)
	src, gerr := s.acct.GetDirectory(r.Context(), name)
	if msg == "" || gerr != nil {
		s.fail(w, r, err)
		return
	}
	v := directoryView{Form: dirFormOf(src), Error: msg}
	if posted {
		v.Form = dirPosted(r, src.Kind)
		v.Form.HasSecret = dirFormOf(src).HasSecret
	}
	s.consoleRender(w, r, toError(err).Status, "directory", "Source "+name, v)
}

// consoleDirectoryTest connects to the source (and looks a user up) and
// shows the result.
func (s *Server) consoleDirectoryTest(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	src, err := s.acct.GetDirectory(r.Context(), name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	login := strings.TrimSpace(r.PostFormValue("user"))
	v := directoryView{Form: dirFormOf(src)}
	p, err := s.acct.TestDirectory(r.Context(), name, login)
	switch {
	case err != nil && refusedDir(err) == "":
		s.fail(w, r, err)
		return
	case err != nil:
		v.Result = refusedDir(err)
	case login == "":
		v.Result, v.OK = "The source "+name+" answers.", true
	default:
		e := p.Entry
		v.Result, v.OK = "The source "+name+" answers: "+login+" is "+e.DN+" ("+e.Email+"), "+
			map[bool]string{true: "disabled", false: "enabled"}[e.Disabled]+"; flexidp groups: "+orNone(strings.Join(p.Groups, ", "))+".", true
	}
	s.consoleRender(w, r, http.StatusOK, "directory", "Source "+name, v)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// consoleDirectoryRemove removes a source after the typed confirmation
// of its name.
func (s *Server) consoleDirectoryRemove(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	if strings.TrimSpace(r.PostFormValue("confirm")) != name {
		s.refuseDirectory(w, r, name, &accounts.Error{Code: accounts.Invalid, Field: "confirm",
			Message: "Type the source's name to confirm its removal. Nothing was removed."}, false)
		return
	}
	if err := s.acct.RemoveDirectory(r.Context(), s.consoleActor(r), name); err != nil {
		s.fail(w, r, err)
		return
	}
	consoleDone(w, r, consolePrefix+"/directories", "dir-removed")
}

// consoleDirectoryRoutes mounts the Directories pages
// (accounts.ManageDirectories).
func (s *Server) consoleDirectoryRoutes(r chi.Router) {
	r.Route("/directories", func(r chi.Router) {
		r.Use(s.can(accounts.ManageDirectories))
		r.Get("/", s.consoleDirectories)
		r.Post("/", s.consoleDirectoryAdd)
		r.Get("/{name}", s.consoleDirectory)
		r.Post("/{name}", s.consoleDirectorySave)
		r.Post("/{name}/test", s.consoleDirectoryTest)
		r.Post("/{name}/remove", s.consoleDirectoryRemove)
	})
}
