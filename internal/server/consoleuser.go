package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/i18n"

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
	v.Form, v.Error, v.Field = form, e.Message.String(), accounts.FieldOf(err)
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

// userChange is a handler of a form of the A user page: it loads the user
// of the URL (404 when unknown), runs change as the console user, then
// redirects to the page with the notice change names, or shows the page
// again with the refusal next to form (v holds what was typed).
func (s *Server) userChange(form string, change func(r *http.Request, actor accounts.Actor, u users.User) (done string, v userView, err error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.consoleUserID(w, r)
		if !ok {
			return
		}
		done, v, err := change(r, s.consoleActor(r), u)
		if err != nil {
			s.refused(w, r, u, v, form, err)
			return
		}
		consoleDone(w, r, userPath(u), done)
	}
}

// consoleProfile saves the profile form (email, names, image, team,
// program, roles).
func (s *Server) consoleProfile(r *http.Request, actor accounts.Actor, u users.User) (string, userView, error) {
	p := postedProfile(r)
	_, err := s.acct.UpdateProfile(r.Context(), actor, u.ID, p)
	return "saved", userView{Profile: p}, err
}

// consoleAttributes saves the typed Flex attributes, each checked with
// the catalog's type for its name; the refused row is marked.
func (s *Server) consoleAttributes(r *http.Request, actor accounts.Actor, u users.User) (string, userView, error) {
	names, values := r.PostForm["attr-name"], r.PostForm["attr-value"]
	if len(names) != len(values) {
		return "", userView{}, &Error{Status: http.StatusBadRequest, Message: i18n.Raw("The attributes form was altered: every row has a name and a value.")}
	}
	rows := make([]accounts.AttributeInput, len(names))
	for i := range names {
		rows[i] = accounts.AttributeInput{Name: strings.TrimSpace(names[i]), Value: values[i]}
	}
	_, err := s.acct.SetAttributes(r.Context(), actor, u.ID, rows)
	v := userView{Attributes: attributeRows(nil, rows)}
	if field := accounts.FieldOf(err); field != "" {
		for i := range v.Attributes {
			v.Attributes[i].Bad = v.Attributes[i].Name == field
		}
	}
	return "attributes", v, err
}

// The buttons of the A user page's Access and Sessions sections.

func (s *Server) consoleDisable(r *http.Request, actor accounts.Actor, u users.User) (string, userView, error) {
	_, err := s.acct.Disable(r.Context(), actor, u.ID)
	return "disabled", userView{}, err
}

func (s *Server) consoleEnable(r *http.Request, actor accounts.Actor, u users.User) (string, userView, error) {
	return "enabled", userView{}, s.acct.Enable(r.Context(), actor, u.ID)
}

func (s *Server) consoleUnlock(r *http.Request, actor accounts.Actor, u users.User) (string, userView, error) {
	_, err := s.acct.Unlock(r.Context(), actor, u.ID, "")
	return "unlocked", userView{}, err
}

func (s *Server) consoleResetMFA(r *http.Request, actor accounts.Actor, u users.User) (string, userView, error) {
	_, err := s.acct.ResetMFA(r.Context(), actor, u.ID)
	return "mfa-reset", userView{}, err
}

// consoleRevoke signs out the posted session of the user, or all of them.
func (s *Server) consoleRevoke(r *http.Request, actor accounts.Actor, u users.User) (string, userView, error) {
	if id := r.PostFormValue("session"); id != "" {
		return "revoked", userView{}, s.acct.RevokeUserSession(r.Context(), actor, u.ID, id)
	}
	_, _, err := s.acct.RevokeSessions(r.Context(), actor, u.ID)
	return "revoked-all", userView{}, err
}

// consoleGrant sets the user's console role (owners only, re-verified).
func (s *Server) consoleGrant(r *http.Request, actor accounts.Actor, u users.User) (string, userView, error) {
	role, err := users.ParseConsoleRole(r.PostFormValue("console_role"))
	if err != nil {
		return "", userView{}, &accounts.Error{Code: accounts.Invalid, Field: "console_role", Message: err.Error(), Err: err}
	}
	_, err = s.acct.Grant(r.Context(), actor, u.ID, role)
	return "granted", userView{}, err
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
	l, err := s.acct.IssueLink(r.Context(), s.consoleActor(r), accounts.LinkRequest{Ref: u.ID, Purpose: purpose,
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
		v.Warning = toError(err).Message.String() // the link stands: the email failed
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
	if _, err := s.acct.Delete(r.Context(), s.consoleActor(r), u.ID); err != nil {
		s.refused(w, r, u, userView{}, "delete", err)
		return
	}
	consoleDone(w, r, consolePrefix+"/users", "deleted")
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
	u, link, err := s.acct.NewUserFromProfile(r.Context(), s.consoleActor(r), p, r.PostFormValue("password"),
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
			HasMailer: s.acct.HasMailer(), Error: e.Message.String(), Field: accounts.FieldOf(err)})
	default:
		consoleDone(w, r, userPath(u), "created")
	}
}

func userPath(u users.User) string { return consolePrefix + "/users/" + u.ID }
