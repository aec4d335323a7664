package server

import (
	"bytes"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/users"
)

// consoleUserRoutes are the Users and A user pages.
func (s *Server) consoleUserRoutes(r chi.Router) {
	read, manage := s.can(accounts.ReadUsers), s.can(accounts.ManageUsers)
	r.With(read).Get("/users", s.consoleUsers)
	// Export needs ImportExport, the others ManageUsers: consoleBulk
	// checks which.
	r.With(read).Post("/users/bulk", s.consoleBulk)
	r.With(manage).Get("/users/new", s.consoleNewUserPage)
	r.With(manage).Post("/users/new", s.consoleNewUser)
	r.With(read).Get("/users/{id}", s.consoleUser)
	r.With(manage).Post("/users/{id}/profile", s.userChange("profile", s.consoleProfile))
	r.With(manage).Post("/users/{id}/attributes", s.userChange("attributes", s.consoleAttributes))
	r.With(manage).Post("/users/{id}/disable", s.userChange("actions", s.consoleDisable))
	r.With(manage).Post("/users/{id}/enable", s.userChange("actions", s.consoleEnable))
	r.With(manage).Post("/users/{id}/unlock", s.userChange("actions", s.consoleUnlock))
	r.With(manage).Post("/users/{id}/reset-mfa", s.userChange("actions", s.consoleResetMFA))
	r.With(manage).Post("/users/{id}/sessions/revoke", s.userChange("actions", s.consoleRevoke))
	r.With(manage).Post("/users/{id}/link", s.consoleLink)
	// Deleting a user is sensitive though ManageUsers is not.
	r.With(manage, s.fresh).Post("/users/{id}/delete", s.consoleDelete)
	r.With(s.can(accounts.ManageConsoleRoles)).Post("/users/{id}/console-role", s.userChange("grant", s.consoleGrant))
}

// usersView is the Users page.
type usersView struct {
	Query                    url.Values
	Q, Role, Team, Status    string
	NoRole                   bool
	Page                     accounts.UserPage
	Next, First              string
	Roles                    []string
	CanManage, CanExport     bool
	Error, ErrorField        string
	BulkRole, BulkTeam, Kind string
}

// userQuery reads the Users page's search from its URL (or the bulk
// form's copy of it).
func userQuery(v url.Values) (accounts.UserQuery, usersView) {
	view := usersView{Q: v.Get("q"), Role: v.Get("role"), Team: v.Get("team"), Status: v.Get("status"), NoRole: v.Get("norole") == "1"}
	q := accounts.UserQuery{Query: strings.TrimSpace(view.Q), Role: strings.TrimSpace(view.Role), Team: view.Team, After: v.Get("after"), NoRole: view.NoRole}
	switch view.Status {
	case "enabled":
		q.Disabled = new(bool)
	case "disabled":
		yes := true
		q.Disabled = &yes
	default:
		view.Status = ""
	}
	search := url.Values{}
	for k, val := range map[string]string{"q": view.Q, "role": view.Role, "team": view.Team, "status": view.Status} {
		if val != "" {
			search.Set(k, val)
		}
	}
	if view.NoRole {
		search.Set("norole", "1")
	}
	view.Query = search
	return q, view
}

// consoleUsers is the Users page: search by email or name, role, team and
// status; keyset paging; the selection's bulk actions.
func (s *Server) consoleUsers(w http.ResponseWriter, r *http.Request) {
	q, view := userQuery(r.URL.Query())
	s.showUsers(w, r, http.StatusOK, q, view)
}

func (s *Server) showUsers(w http.ResponseWriter, r *http.Request, status int, q accounts.UserQuery, view usersView) {
	role := consoleFrom(r).user.ConsoleRole
	page, err := s.acct.SearchUsers(r.Context(), q)
	if accounts.ErrorCode(err) == accounts.Invalid {
		status, view.Error = http.StatusBadRequest, err.Error()
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	view.Page = page
	view.Roles = attributes.KnownRoles()
	view.CanManage, view.CanExport = accounts.Allows(role, accounts.ManageUsers), accounts.Allows(role, accounts.ImportExport)
	if page.Next != "" {
		next := cloneValues(view.Query)
		next.Set("after", page.Next)
		view.Next = consolePrefix + "/users?" + next.Encode()
	}
	if q.After != "" {
		view.First = consolePrefix + "/users?" + view.Query.Encode()
	}
	s.consoleRender(w, r, status, "users", "Users", view)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// consoleBulk applies a bulk action to the selected users, or exports
// them as CSV (the importer's format).
func (s *Server) consoleBulk(w http.ResponseWriter, r *http.Request) {
	c := consoleFrom(r)
	ids := r.PostForm["id"]
	kind := r.PostFormValue("action")
	need := accounts.ManageUsers
	if kind == "export" {
		need = accounts.ImportExport
	}
	if !accounts.Allows(c.user.ConsoleRole, need) {
		s.fail(w, r, errConsoleForbidden)
		return
	}
	// The search the selection was made in, to show again.
	search, _ := url.ParseQuery(r.PostFormValue("search"))
	q, view := userQuery(search)
	if kind == "export" {
		var buf bytes.Buffer
		if _, err := s.acct.ExportUsers(r.Context(), s.consoleActor(r), &buf, ids); err != nil {
			s.bulkRefused(w, r, q, view, err)
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="flexidp-users.csv"`)
		_, _ = w.Write(buf.Bytes())
		return
	}
	a := accounts.BulkAction{Kind: kind, Role: strings.TrimSpace(r.PostFormValue("bulk-role")), Team: strings.TrimSpace(r.PostFormValue("bulk-team"))}
	res, err := s.acct.Bulk(r.Context(), s.consoleActor(r), a, ids)
	if err != nil {
		view.BulkRole, view.BulkTeam, view.Kind = a.Role, a.Team, a.Kind
		s.bulkRefused(w, r, q, view, err)
		return
	}
	back := consolePrefix + "/users"
	if len(view.Query) > 0 {
		back += "?" + view.Query.Encode()
	}
	if len(res.Refused) > 0 {
		view.Error = strconv.Itoa(res.Changed) + " changed; refused: " + strings.Join(res.Refused, " ")
		s.showUsers(w, r, http.StatusConflict, q, view)
		return
	}
	sep := "?"
	if strings.Contains(back, "?") {
		sep = "&"
	}
	http.Redirect(w, r, back+sep+"done=bulk", http.StatusSeeOther)
}

// bulkRefused shows the Users page again with the refusal of a bulk
// action (a 4xx with its sentence), or fails.
func (s *Server) bulkRefused(w http.ResponseWriter, r *http.Request, q accounts.UserQuery, view usersView, err error) {
	e := toError(err)
	if e.Status >= 500 {
		s.fail(w, r, err)
		return
	}
	view.Error, view.ErrorField = e.Message.String(), accounts.FieldOf(err)
	s.showUsers(w, r, e.Status, q, view)
}

// consoleUserID is the user of a /users/{id} page: 404 when unknown.
func (s *Server) consoleUserID(w http.ResponseWriter, r *http.Request) (users.User, bool) {
	u, err := s.acct.Store().GetUser(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.fail(w, r, err)
		return u, false
	}
	return u, true
}
