package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// historyLength is how many audit events of a user their page shows.
const historyLength = 50

// extraAttributeRows are the empty rows of the attributes form, for new
// attributes (without JavaScript).
const extraAttributeRows = 3

// userView is the A user page.
type userView struct {
	User users.User
	// Name is the user's name as Flex shows it.
	Name       string
	Profile    accounts.Profile
	Attributes []attributeRow
	Catalog    []attributes.Entry
	Roles      []string
	Releases   []releaseView
	Sessions   []store.Session
	TwoStep    string
	Lock       string
	History    []store.AuditEvent
	// What the console user may do here.
	CanManage, CanGrant bool
	ConsoleRoles        []users.ConsoleRole
	HasMailer           bool
	// Form is the form an error is about ("profile", "attributes", ...),
	// Error its sentence and Field the input at fault.
	Form, Error, Field string
}

// attributeRow is one row of the attributes form.
type attributeRow struct {
	Name, Value string
	// Type and About describe what the catalog expects of Name.
	Type, About string
	Bad         bool
}

// releaseView is what one SP would receive about the user.
type releaseView struct {
	SP         string
	NameID     string
	Attributes []attributes.Attribute
	Unassigned bool
	Refusal    string
}

// consoleUser shows a user.
func (s *Server) consoleUser(w http.ResponseWriter, r *http.Request) {
	u, ok := s.consoleUserID(w, r)
	if !ok {
		return
	}
	s.showUser(w, r, http.StatusOK, u, userView{Profile: accounts.ProfileOf(u), Attributes: attributeRows(u.Attributes, nil)})
}

// showUser renders the page of u; v carries the forms' values and the
// error of a refused change, if any.
func (s *Server) showUser(w http.ResponseWriter, r *http.Request, status int, u users.User, v userView) {
	ctx := r.Context()
	role := consoleFrom(r).user.ConsoleRole
	v.User, v.Name, v.Catalog, v.Roles = u, u.DisplayName(), attributes.Catalog(), attributes.KnownRoles()
	v.CanManage, v.CanGrant = accounts.Allows(role, accounts.ManageUsers), accounts.Allows(role, accounts.ManageConsoleRoles)
	v.ConsoleRoles = []users.ConsoleRole{users.ConsoleNone, users.ConsoleViewer, users.ConsoleManager, users.ConsoleOwner}
	v.HasMailer = s.acct.HasMailer()
	v.TwoStep, v.Lock = s.acct.TwoStepStatus(ctx, u), s.acct.LockStatus(ctx, u)
	var err error
	if _, v.Sessions, err = s.acct.Sessions(ctx, u.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	if v.History, err = s.acct.History(ctx, u, historyLength); err != nil {
		s.fail(w, r, err)
		return
	}
	sps, err := s.acct.ListSPs(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, p := range sps {
		rv := releaseView{SP: p.Label()}
		pv, err := s.acct.PreviewRelease(ctx, u.ID, p.Name)
		switch {
		case accounts.ErrorCode(err) == accounts.Invalid:
			rv.Refusal = err.Error()
		case err != nil:
			s.fail(w, r, err)
			return
		default:
			rv.NameID, rv.Attributes, rv.Unassigned = pv.Released.NameID, pv.Released.Attributes, pv.Unassigned
		}
		v.Releases = append(v.Releases, rv)
	}
	s.consoleRender(w, r, status, "user", u.Email, v)
}

// attributeRows are the rows of the attributes form: set's (or the rows
// just posted), then empty ones.
func attributeRows(set attributes.Set, posted []accounts.AttributeInput) []attributeRow {
	var rows []attributeRow
	if posted != nil {
		for _, in := range posted {
			if in.Name != "" || in.Value != "" {
				rows = append(rows, describe(in.Name, in.Value))
			}
		}
	} else {
		for _, name := range set.Names() {
			rows = append(rows, describe(name, set[name].String()))
		}
	}
	for range extraAttributeRows {
		rows = append(rows, attributeRow{})
	}
	return rows
}

// describe is a row with what the catalog (or the name's suffix) says of
// the attribute.
func describe(name, value string) attributeRow {
	row := attributeRow{Name: name, Value: value}
	if e, ok := attributes.Lookup(name); ok {
		row.Type, row.About = e.Type.String(), e.Description
	} else if _, t, err := attributes.ParseName(name); err == nil {
		row.Type, row.About = t.String(), "Custom attribute: its type is the name's suffix (name.int, name.stringarray, …); none means string."
	}
	return row
}

// refused shows the page of u again with the refusal of a change made
// with form (a 4xx with its sentence next to the field), or fails.
func (s *Server) refused(w http.ResponseWriter, r *http.Request, u users.User, v userView, form string, err error) {
	e := toError(err)
	if e.Status >= 500 {
		s.fail(w, r, err)
		return
	}
	v.Form, v.Error, v.Field = form, e.Message, accounts.FieldOf(err)
	if v.Attributes == nil {
		v.Attributes = attributeRows(u.Attributes, nil)
	}
	if v.Profile == (accounts.Profile{}) {
		v.Profile = accounts.ProfileOf(u)
	}
	s.showUser(w, r, e.Status, u, v)
}

func postedProfile(r *http.Request) accounts.Profile {
	f := r.PostFormValue
	return accounts.Profile{Email: f("email"), FullName: f("full_name"), GivenName: f("given_name"), FamilyName: f("family_name"),
		ImageURL: f("image_url"), Team: f("team"), Program: f("program"), Roles: f("roles")}
}

// consoleProfile saves the profile form (email, names, image, team,
// program, roles).
func (s *Server) consoleProfile(w http.ResponseWriter, r *http.Request) {
	u, ok := s.consoleUserID(w, r)
	if !ok {
		return
	}
	p := postedProfile(r)
	if _, err := s.acct.UpdateProfile(r.Context(), consoleFrom(r).actor(s, r), u.ID, p); err != nil {
		s.refused(w, r, u, userView{Profile: p}, "profile", err)
		return
	}
	consoleDone(w, r, userPath(u), "saved")
}

// consoleAttributes saves the typed Flex attributes, each checked with
// the catalog's type for its name.
func (s *Server) consoleAttributes(w http.ResponseWriter, r *http.Request) {
	u, ok := s.consoleUserID(w, r)
	if !ok {
		return
	}
	names, values := r.PostForm["attr-name"], r.PostForm["attr-value"]
	if len(names) != len(values) {
		s.refused(w, r, u, userView{}, "attributes", &Error{Status: http.StatusBadRequest, Message: "The attributes form was altered: every row has a name and a value."})
		return
	}
	rows := make([]accounts.AttributeInput, len(names))
	for i := range names {
		rows[i] = accounts.AttributeInput{Name: strings.TrimSpace(names[i]), Value: values[i]}
	}
	if _, err := s.acct.SetAttributes(r.Context(), consoleFrom(r).actor(s, r), u.ID, rows); err != nil {
		v := userView{Attributes: attributeRows(nil, rows)}
		field := accounts.FieldOf(err)
		for i := range v.Attributes {
			v.Attributes[i].Bad = field != "" && v.Attributes[i].Name == field
		}
		s.refused(w, r, u, v, "attributes", err)
		return
	}
	consoleDone(w, r, userPath(u), "attributes")
}

// consoleUserChange applies one of the user page's buttons: disable,
// enable, unlock, reset-mfa, sessions/revoke.
func (s *Server) consoleUserChange(w http.ResponseWriter, r *http.Request) {
	u, ok := s.consoleUserID(w, r)
	if !ok {
		return
	}
	ctx, actor := r.Context(), consoleFrom(r).actor(s, r)
	var err error
	done := ""
	switch {
	case strings.HasSuffix(r.URL.Path, "/disable"):
		_, err = s.acct.Disable(ctx, actor, u.ID)
		done = "disabled"
	case strings.HasSuffix(r.URL.Path, "/enable"):
		err, done = s.acct.Enable(ctx, actor, u.ID), "enabled"
	case strings.HasSuffix(r.URL.Path, "/unlock"):
		_, err = s.acct.Unlock(ctx, actor, u.ID, "")
		done = "unlocked"
	case strings.HasSuffix(r.URL.Path, "/reset-mfa"):
		_, err = s.acct.ResetMFA(ctx, actor, u.ID)
		done = "mfa-reset"
	case strings.HasSuffix(r.URL.Path, "/sessions/revoke"):
		if id := r.PostFormValue("session"); id != "" {
			err, done = s.acct.RevokeUserSession(ctx, actor, u.ID, id), "revoked"
		} else {
			_, _, err = s.acct.RevokeSessions(ctx, actor, u.ID)
			done = "revoked-all"
		}
	}
	if err != nil {
		s.refused(w, r, u, userView{}, "actions", err)
		return
	}
	consoleDone(w, r, userPath(u), done)
}

// linkView is the page that shows a password link, once.
type linkView struct {
	User    users.User
	URL     string
	Expires time.Time
	Emailed bool
	Invite  bool
	// Warning is a sentence about the email that could not be sent.
	Warning string
}

// consoleLink issues an invitation (a user without a password) or a
// reset link, emails it when SMTP is set, and shows it in this response
// only: nothing stores it for a later page.
func (s *Server) consoleLink(w http.ResponseWriter, r *http.Request) {
	u, ok := s.consoleUserID(w, r)
	if !ok {
		return
	}
	purpose := store.TokenReset
	if u.PasswordHash == "" {
		purpose = store.TokenInvite
	}
	l, err := s.acct.IssueLink(r.Context(), consoleFrom(r).actor(s, r), accounts.LinkRequest{Ref: u.ID, Purpose: purpose,
		BaseURL: s.cfg.BaseURL, Email: r.PostFormValue("email") == "1"})
	s.showLink(w, r, l, purpose == store.TokenInvite, err)
}

// showLink renders an issued link (once), or the refusal.
func (s *Server) showLink(w http.ResponseWriter, r *http.Request, l accounts.Link, invite bool, err error) {
	v := linkView{User: l.User, URL: l.URL, Expires: l.ExpiresAt, Emailed: l.Emailed, Invite: invite}
	if err != nil {
		if l.URL == "" {
			s.fail(w, r, err)
			return
		}
		v.Warning = toError(err).Message // the link stands: the email failed
	}
	title := "Password reset link"
	if invite {
		title = "Invitation link"
	}
	s.consoleRender(w, r, http.StatusOK, "link", title, v)
}

// consoleDelete deletes a user after a recent re-verification and the
// typed confirmation of their email.
func (s *Server) consoleDelete(w http.ResponseWriter, r *http.Request) {
	u, ok := s.consoleUserID(w, r)
	if !ok {
		return
	}
	if !strings.EqualFold(strings.TrimSpace(r.PostFormValue("confirm")), u.Email) {
		s.refused(w, r, u, userView{}, "delete", &accounts.Error{Code: accounts.Invalid, Field: "confirm",
			Message: "Type the user's email address to confirm the deletion. Nothing was deleted."})
		return
	}
	if _, err := s.acct.Delete(r.Context(), consoleFrom(r).actor(s, r), u.ID); err != nil {
		s.refused(w, r, u, userView{}, "delete", err)
		return
	}
	consoleDone(w, r, consolePrefix+"/users", "deleted")
}

// consoleGrant sets the user's console role (owners only, re-verified).
func (s *Server) consoleGrant(w http.ResponseWriter, r *http.Request) {
	u, ok := s.consoleUserID(w, r)
	if !ok {
		return
	}
	role, err := users.ParseConsoleRole(r.PostFormValue("console_role"))
	if err == nil {
		_, err = s.acct.Grant(r.Context(), consoleFrom(r).actor(s, r), u.ID, role)
	} else {
		err = &accounts.Error{Code: accounts.Invalid, Field: "console_role", Message: err.Error(), Err: err}
	}
	if err != nil {
		s.refused(w, r, u, userView{}, "grant", err)
		return
	}
	consoleDone(w, r, userPath(u), "granted")
}

// newUserView is the Create a user page.
type newUserView struct {
	Profile      accounts.Profile
	Roles        []string
	HasMailer    bool
	Error, Field string
}

func (s *Server) consoleNewUserPage(w http.ResponseWriter, r *http.Request) {
	s.consoleRender(w, r, http.StatusOK, "usernew", "Create a user", newUserView{Profile: accounts.Profile{Roles: "agent"},
		Roles: attributes.KnownRoles(), HasMailer: s.acct.HasMailer()})
}

// consoleNewUser creates a user with a password, or by an invitation
// whose link is shown once.
func (s *Server) consoleNewUser(w http.ResponseWriter, r *http.Request) {
	p := postedProfile(r)
	u, link, err := s.acct.NewUserFromProfile(r.Context(), consoleFrom(r).actor(s, r), p, r.PostFormValue("password"),
		s.cfg.BaseURL, r.PostFormValue("send") == "1")
	switch {
	case link != nil:
		s.showLink(w, r, *link, true, err)
	case err != nil:
		e := toError(err)
		if e.Status >= 500 {
			s.fail(w, r, err)
			return
		}
		s.consoleRender(w, r, e.Status, "usernew", "Create a user", newUserView{Profile: p, Roles: attributes.KnownRoles(),
			HasMailer: s.acct.HasMailer(), Error: e.Message, Field: accounts.FieldOf(err)})
	default:
		consoleDone(w, r, userPath(u), "created")
	}
}

func userPath(u users.User) string { return consolePrefix + "/users/" + u.ID }
