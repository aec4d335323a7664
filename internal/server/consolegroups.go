package server

import (
	"net/http"
	"strings"
	"unicode"

	"github.com/go-chi/chi/v5"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/users"
)

// consoleGroupRoutes are the Groups and A group pages.
func (s *Server) consoleGroupRoutes(r chi.Router) {
	read, manage := s.can(accounts.ReadUsers), s.can(accounts.ManageUsers)
	r.With(read).Get("/groups", s.consoleGroups)
	r.With(manage).Post("/groups", s.consoleNewGroup)
	r.With(read).Get("/groups/{id}", s.consoleGroup)
	r.With(manage).Post("/groups/{id}", s.groupChange(s.consoleGroupSave))
	r.With(manage).Post("/groups/{id}/members", s.groupChange(s.consoleGroupAdd))
	r.With(manage).Post("/groups/{id}/members/remove", s.groupChange(s.consoleGroupRemove))
	// Deleting a group changes every member's profile: sensitive.
	r.With(manage, s.fresh).Post("/groups/{id}/delete", s.consoleGroupDelete)
}

// groupForm is a group as its form shows it.
type groupForm struct {
	Name, Description, ExternalID, Roles, Team, Program string
	// Attributes are NAME=VALUE lines.
	Attributes string
}

func groupFormOf(g users.Group) groupForm {
	f := groupForm{Name: g.Name, Description: g.Description, ExternalID: g.ExternalID, Roles: strings.Join(g.Roles, ", "),
		Team: g.Team, Program: g.Program}
	var lines []string
	for _, n := range g.Attributes.Names() {
		lines = append(lines, n+"="+g.Attributes[n].String())
	}
	f.Attributes = strings.Join(lines, "\n")
	return f
}

func postedGroup(r *http.Request) groupForm {
	return groupForm{Name: r.PostFormValue("name"), Description: r.PostFormValue("description"), ExternalID: r.PostFormValue("external_id"),
		Roles: r.PostFormValue("roles"), Team: r.PostFormValue("team"), Program: r.PostFormValue("program"), Attributes: r.PostFormValue("attributes")}
}

// apply sets g's fields from the form; a bad role or attribute is an
// Invalid error naming it.
func (f groupForm) apply(g *users.Group) error {
	roles, err := attributes.ParseRoles(f.Roles)
	if err != nil {
		return &accounts.Error{Code: accounts.Invalid, Message: err.Error(), Err: err}
	}
	var pairs []string
	for _, line := range strings.Split(f.Attributes, "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			return &accounts.Error{Code: accounts.Invalid, Message: "Each attribute line is NAME=VALUE; " + quote(line) + " is not."}
		}
		pairs = append(pairs, strings.TrimSpace(name), value)
	}
	set, err := attributes.SetOf(pairs...)
	if err != nil {
		return &accounts.Error{Code: accounts.Invalid, Message: err.Error(), Err: err}
	}
	g.Name, g.Description, g.ExternalID = strings.TrimSpace(f.Name), f.Description, strings.TrimSpace(f.ExternalID)
	g.Roles, g.Team, g.Program, g.Attributes = roles, strings.TrimSpace(f.Team), strings.TrimSpace(f.Program), set
	return nil
}

func quote(s string) string { return "“" + s + "”" }

// groupsView is the Groups page.
type groupsView struct {
	Groups    []users.Group
	CanManage bool
	Form      groupForm
	Error     string
}

func (s *Server) consoleGroups(w http.ResponseWriter, r *http.Request) {
	s.showGroups(w, r, http.StatusOK, groupsView{})
}

func (s *Server) showGroups(w http.ResponseWriter, r *http.Request, status int, v groupsView) {
	gs, err := s.acct.ListGroups(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.Groups, v.CanManage = gs, accounts.Allows(consoleFrom(r).user.ConsoleRole, accounts.ManageUsers)
	s.consoleRender(w, r, status, "groups", "Groups", v)
}

// consoleNewGroup creates a group from the Groups page's form.
func (s *Server) consoleNewGroup(w http.ResponseWriter, r *http.Request) {
	f := postedGroup(r)
	var g users.Group
	err := f.apply(&g)
	if err == nil {
		g, err = s.acct.CreateGroup(r.Context(), s.consoleActor(r), g)
	}
	if err != nil {
		e := toError(err)
		s.showGroups(w, r, e.Status, groupsView{Form: f, Error: e.Message.String()})
		return
	}
	consoleDone(w, r, groupPath(g), "group-created")
}

func groupPath(g users.Group) string { return consolePrefix + "/groups/" + g.ID }

// groupView is the A group page.
type groupView struct {
	Group     users.Group
	Form      groupForm
	Members   []users.User
	CanManage bool
	// Error is the refusal of the form named Refused ("group", "members").
	Error, Refused string
	Emails         string
}

// consoleGroupID loads the group of the URL, or answers 404.
func (s *Server) consoleGroupID(w http.ResponseWriter, r *http.Request) (users.Group, bool) {
	g, err := s.acct.Store().GetGroup(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.fail(w, r, err)
		return g, false
	}
	return g, true
}

func (s *Server) consoleGroup(w http.ResponseWriter, r *http.Request) {
	g, ok := s.consoleGroupID(w, r)
	if !ok {
		return
	}
	s.showGroup(w, r, http.StatusOK, g, groupView{Form: groupFormOf(g)})
}

func (s *Server) showGroup(w http.ResponseWriter, r *http.Request, status int, g users.Group, v groupView) {
	members, err := s.acct.GroupMembers(r.Context(), g.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v.Group, v.Members = g, members
	v.CanManage = accounts.Allows(consoleFrom(r).user.ConsoleRole, accounts.ManageUsers)
	s.consoleRender(w, r, status, "group", "Group "+g.Name, v)
}

// groupChange runs a change of the A group page: on success back to the
// page with the notice, on refusal the page again with the sentence next
// to the form refused (status from the error).
func (s *Server) groupChange(change func(r *http.Request, actor accounts.Actor, g users.Group) (done string, v groupView, err error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		g, ok := s.consoleGroupID(w, r)
		if !ok {
			return
		}
		done, v, err := change(r, s.consoleActor(r), g)
		if err != nil {
			e := toError(err)
			if v.Refused == "" {
				v.Refused = "members"
			}
			if v.Form == (groupForm{}) {
				v.Form = groupFormOf(g)
			}
			v.Error = e.Message.String()
			s.showGroup(w, r, e.Status, g, v)
			return
		}
		consoleDone(w, r, groupPath(g), done)
	}
}

func (s *Server) consoleGroupSave(r *http.Request, actor accounts.Actor, g users.Group) (string, groupView, error) {
	f := postedGroup(r)
	_, err := s.acct.UpdateGroup(r.Context(), actor, g.ID, f.apply)
	return "saved", groupView{Form: f, Refused: "group"}, err
}

// memberRefs reads emails or IDs separated by commas, spaces or lines.
func memberRefs(s string) []string {
	return strings.FieldsFunc(s, func(c rune) bool { return c == ',' || c == ';' || unicode.IsSpace(c) })
}

func (s *Server) consoleGroupAdd(r *http.Request, actor accounts.Actor, g users.Group) (string, groupView, error) {
	v := groupView{Emails: r.PostFormValue("emails"), Refused: "members"}
	refs := memberRefs(v.Emails)
	if len(refs) == 0 {
		return "", v, &accounts.Error{Code: accounts.Invalid, Message: "Give the email of at least one user to add."}
	}
	return "group-members", v, s.acct.AddMembers(r.Context(), actor, g.ID, refs...)
}

func (s *Server) consoleGroupRemove(r *http.Request, actor accounts.Actor, g users.Group) (string, groupView, error) {
	return "group-members", groupView{Refused: "members"}, s.acct.RemoveMembers(r.Context(), actor, g.ID, r.PostFormValue("user"))
}

func (s *Server) consoleGroupDelete(w http.ResponseWriter, r *http.Request) {
	g, ok := s.consoleGroupID(w, r)
	if !ok {
		return
	}
	if _, err := s.acct.DeleteGroup(r.Context(), s.consoleActor(r), g.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	consoleDone(w, r, consolePrefix+"/groups", "group-deleted")
}
