package accounts

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// Profile is a user's profile as a form edits it: the fields Flex
// receives besides the custom attributes, and the roles as typed.
type Profile struct {
	Email, FullName, GivenName, FamilyName, ImageURL, Team, Program string
	// Roles is comma-separated ("supervisor, agent").
	Roles string
}

// ProfileOf returns u's profile as a form shows it.
func ProfileOf(u users.User) Profile {
	return Profile{Email: u.Email, FullName: u.FullName, GivenName: u.GivenName, FamilyName: u.FamilyName, ImageURL: u.ImageURL,
		Team: u.Team, Program: u.Program, Roles: strings.Join(u.Roles, ", ")}
}

// apply sets p on u, trimming the typed text; roles are parsed (a typo
// gets the "did you mean" suggestion).
func (p Profile) apply(u *users.User) error {
	roles, err := attributes.ParseRoles(p.Roles)
	if err != nil {
		return err
	}
	u.Email, u.FullName, u.GivenName, u.FamilyName = strings.TrimSpace(p.Email), strings.TrimSpace(p.FullName), strings.TrimSpace(p.GivenName), strings.TrimSpace(p.FamilyName)
	u.ImageURL, u.Team, u.Program, u.Roles = strings.TrimSpace(p.ImageURL), strings.TrimSpace(p.Team), strings.TrimSpace(p.Program), roles
	return nil
}

// UpdateProfile sets the user's profile (UpdateUser, "user.update").
func (s *Service) UpdateProfile(ctx context.Context, actor Actor, ref string, p Profile) (users.User, error) {
	return s.UpdateUser(ctx, actor, ref, "user.update", p.apply)
}

// NewUserFromProfile is CreateUser from a form: the profile and the
// password; without a password, the user is created by an invitation
// (IssueLink) whose link is returned, to be shown once (and emailed when
// email is true and a mailer is set).
func (s *Service) NewUserFromProfile(ctx context.Context, actor Actor, p Profile, password string, base *url.URL, email bool) (users.User, *Link, error) {
	var u users.User
	if err := p.apply(&u); err != nil {
		return users.User{}, nil, invalid(err)
	}
	if password != "" {
		u, err := s.CreateUser(ctx, actor, NewUser{User: u, Password: password})
		return u, nil, err
	}
	if err := u.Validate(); err != nil { // before the link: the invitation checks again
		return users.User{}, nil, invalid(err)
	}
	// An invitation of an existing user without a password would be
	// issued to them: creating a user is not that.
	if _, err := s.FindUser(ctx, u.Email); err == nil {
		return users.User{}, nil, &Error{Code: Conflict, Field: "email", Message: fmt.Sprintf("A user with email %s already exists.", u.Email)}
	} else if ErrorCode(err) != NotFound {
		return users.User{}, nil, err
	}
	l, err := s.IssueLink(ctx, actor, LinkRequest{Ref: u.Email, Purpose: store.TokenInvite, BaseURL: base, Profile: u, Email: email})
	if err != nil && l.URL == "" {
		return users.User{}, nil, err
	}
	return l.User, &l, err
}

// AttributeInput is one row of an attributes form: the name (a custom
// one with its type suffix, "skills.intarray") and the value as typed
// (an array comma-separated).
type AttributeInput struct{ Name, Value string }

// SetAttributes replaces the user's custom Flex attributes with rows, each
// value parsed with the catalog's type and rules for its name
// (channel.chat.capacity is an int >= 0) or its suffix's type. Empty rows
// are skipped; a bad row changes nothing and its error names the
// attribute (FieldOf).
func (s *Service) SetAttributes(ctx context.Context, actor Actor, ref string, rows []AttributeInput) (users.User, error) {
	set := attributes.Set{}
	for _, r := range rows {
		name, raw := strings.TrimSpace(r.Name), r.Value
		switch {
		case name == "" && strings.TrimSpace(raw) == "":
			continue
		case name == "":
			return users.User{}, &Error{Code: Invalid, Field: "attributes", Message: fmt.Sprintf("The value %q has no attribute name.", raw)}
		}
		if _, dup := set[name]; dup {
			return users.User{}, &Error{Code: Invalid, Field: name, Message: fmt.Sprintf("The attribute %q is listed twice.", name)}
		}
		v, err := attributes.Parse(name, raw)
		if err != nil {
			return users.User{}, invalid(err)
		}
		set[name] = v
	}
	if err := set.Validate(); err != nil {
		return users.User{}, invalid(err)
	}
	if len(set) == 0 {
		set = nil
	}
	return s.UpdateUser(ctx, actor, ref, "user.set-attr", func(u *users.User) error {
		u.Attributes = set
		return nil
	})
}

// FieldOf returns the input an error is about: an attribute's name
// ("roles", "team", "channel.chat.capacity"), a user field ("email"), the
// Field of an *Error; "" when it is about none in particular.
func FieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Field != "" {
		return e.Field
	}
	var ae *attributes.Error
	if errors.As(err, &ae) {
		return ae.Name
	}
	var ve *users.ValidationError
	if errors.As(err, &ve) {
		return ve.Field
	}
	return ""
}

// RevokeUserSession ends one session of the user (its ID, as Sessions
// lists it); a session of another user is NotFound.
func (s *Service) RevokeUserSession(ctx context.Context, actor Actor, ref, id string) error {
	u, err := s.FindUser(ctx, ref)
	if err != nil {
		return err
	}
	sess, err := s.st.GetSession(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && sess.UserID != u.ID {
		return errorf(NotFound, "%s has no such session (it may have ended already).", u.Email)
	} else if err != nil {
		return err
	}
	_, err = s.RevokeSession(ctx, actor, id)
	return err
}

// History returns the user's audit trail, newest first, at most limit
// events: what they did and what was done to them.
func (s *Service) History(ctx context.Context, u users.User, limit int) ([]store.AuditEvent, error) {
	return s.st.ListAudit(ctx, store.AuditFilter{User: u.ID, Limit: limit})
}
