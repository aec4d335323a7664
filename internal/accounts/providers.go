package accounts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// GetSP returns the service provider with that name.
func (s *Service) GetSP(ctx context.Context, name string) (sp.ServiceProvider, error) {
	p, err := s.st.GetServiceProvider(ctx, name)
	return p, notFoundAs(err, fmt.Sprintf("There is no service provider named %q (see idp sp list).", name))
}

// ListSPs returns every service provider, ordered by name.
func (s *Service) ListSPs(ctx context.Context) ([]sp.ServiceProvider, error) {
	return s.st.ListServiceProviders(ctx)
}

// Preview is what a service provider would receive about a user at their
// next sign-in, worked out without signing or sending anything.
type Preview struct {
	User     users.User
	SP       sp.ServiceProvider
	Released attributes.Released
	// Profile is the user's effective profile: their own values merged
	// with their groups' (users.Effective).
	Profile users.Profile
	// Unassigned is true when the SP requires assignment and the user has
	// none: the sign-in would be refused before anything is released.
	Unassigned bool
}

// SourceSP is the Source of the SP's static attributes and default roles.
const SourceSP = "service provider"

// Source says where the released attribute name came from: "user",
// "group Sales-ES" (several joined by ", ": the roles of the user and of
// two groups), or SourceSP for the SP's static attributes and default
// roles.
func (pv Preview) Source(name string) string {
	switch name {
	case "email", "full_name", "image_url":
		return users.SourceUser
	case "roles":
		if len(pv.Profile.User.Roles) == 0 {
			return SourceSP + " (default roles)"
		}
	}
	if src := pv.Profile.Source(name); src != "" {
		return src
	}
	return SourceSP
}

// PreviewRelease works out the NameID and attributes the service provider
// would receive for the user, with the rules a sign-in applies, and where
// each value comes from. A user the release policy refuses (no role, say,
// or groups that give conflicting values) is an Invalid error; a disabled
// or unassigned user is reported in the Preview, so that an administrator
// still sees what would be released once that is put right.
func (s *Service) PreviewRelease(ctx context.Context, userRef, spName string) (Preview, error) {
	p, err := s.GetSP(ctx, spName)
	if err != nil {
		return Preview{}, err
	}
	return s.previewFor(ctx, userRef, p)
}

// previewFor is what p (stored or a draft) would receive about the user:
// their effective profile (groups merged) under p's policy.
func (s *Service) previewFor(ctx context.Context, userRef string, p sp.ServiceProvider) (Preview, error) {
	u, err := s.FindUser(ctx, userRef)
	if err != nil {
		return Preview{}, err
	}
	may, err := s.MayEnter(ctx, u, p)
	if err != nil {
		return Preview{}, err
	}
	gs, err := s.GroupsOf(ctx, u)
	if err != nil {
		return Preview{}, err
	}
	prof, perr := users.Effective(u, gs)
	return preview(u, prof, perr, p, may)
}

// ReleaseFor works out what p receives about u at a sign-in: u's
// effective profile (their groups loaded in one store query) released
// under p's policy. The error is a *users.ConflictError, an
// *attributes.Error (ErrNoRole among them) or an internal one.
func (s *Service) ReleaseFor(ctx context.Context, u users.User, p sp.ServiceProvider) (attributes.Released, error) {
	gs, err := s.GroupsOf(ctx, u)
	if err != nil {
		return attributes.Released{}, err
	}
	return s.Release(u, gs, p)
}

// Release is ReleaseFor given u's groups (as GroupsOf returns them), read
// with u in the same store query (store.Store.GetSessionUser, SignIn):
// no store read.
func (s *Service) Release(u users.User, groups []users.Group, p sp.ServiceProvider) (attributes.Released, error) {
	prof, err := users.Effective(u, groups)
	if err != nil {
		return attributes.Released{}, err
	}
	return attributes.Release(prof.User.Subject(), p.Policy)
}

// preview is what p receives about u (who may enter p, or not), given
// u's effective profile prof and users.Effective's error perr: an Invalid
// error when the profile or the release policy refuses u.
func preview(u users.User, prof users.Profile, perr error, p sp.ServiceProvider, may bool) (Preview, error) {
	pv := Preview{User: u, SP: p, Profile: prof, Unassigned: !may}
	err := perr
	if err == nil {
		pv.Released, err = attributes.Release(prof.User.Subject(), p.Policy)
	}
	if err != nil {
		return Preview{}, &Error{Code: Invalid, Err: err, Message: fmt.Sprintf("%s would be refused at %s: %v", u.Email, p.Name, err)}
	}
	return pv, nil
}

// CreateSP validates and registers a service provider.
func (s *Service) CreateSP(ctx context.Context, actor Actor, p sp.ServiceProvider) (sp.ServiceProvider, error) {
	if err := p.Validate(); err != nil {
		return sp.ServiceProvider{}, invalid(err)
	}
	if err := s.st.CreateServiceProvider(ctx, p); errors.Is(err, store.ErrConflict) {
		return sp.ServiceProvider{}, &Error{Code: Conflict, Err: err,
			Message: fmt.Sprintf("A service provider named %q or with entity ID %q already exists.", p.Name, p.EntityID)}
	} else if err != nil {
		return sp.ServiceProvider{}, err
	}
	return p, s.audit(ctx, actor, Change{Action: "sp.add", SP: p.Name, After: SPView(p)})
}

// UpdateSP applies change to the service provider atomically and
// validates the result. The name cannot change.
func (s *Service) UpdateSP(ctx context.Context, actor Actor, name string, change func(*sp.ServiceProvider) error) (sp.ServiceProvider, error) {
	before, err := s.GetSP(ctx, name)
	if err != nil {
		return before, err
	}
	after, err := s.st.UpdateServiceProvider(ctx, name, func(cur sp.ServiceProvider) (sp.ServiceProvider, error) {
		if err := change(&cur); err != nil {
			return cur, invalid(err)
		}
		cur.Name = name
		return cur, invalid(cur.Validate())
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		return after, &Error{Code: Conflict, Message: "Another service provider already has that entity ID.", Err: err}
	case err != nil:
		return after, notFoundAs(err, fmt.Sprintf("There is no service provider named %q.", name))
	}
	return after, s.audit(ctx, actor, Change{Action: "sp.set", SP: name, Before: SPView(before), After: SPView(after)})
}

// RemoveSP removes a service provider and its assignments.
func (s *Service) RemoveSP(ctx context.Context, actor Actor, name string) error {
	before, err := s.GetSP(ctx, name)
	if err != nil {
		return err
	}
	if err := s.st.DeleteServiceProvider(ctx, name); err != nil {
		return notFoundAs(err, fmt.Sprintf("There is no service provider named %q.", name))
	}
	return s.audit(ctx, actor, Change{Action: "sp.remove", SP: name, Before: SPView(before)})
}

// Assign lets a user into a service provider that requires assignment;
// with assign false it takes the assignment away.
func (s *Service) Assign(ctx context.Context, actor Actor, userRef, spName string, assign bool) error {
	u, err := s.FindUser(ctx, userRef)
	if err != nil {
		return err
	}
	if _, err := s.GetSP(ctx, spName); err != nil {
		return err
	}
	verb := "assign"
	if assign {
		err = s.st.AssignUser(ctx, u.ID, spName)
	} else {
		verb = "unassign"
		if err = s.st.UnassignUser(ctx, u.ID, spName); errors.Is(err, store.ErrNotFound) {
			return errorf(Conflict, "%s is not assigned to %s.", u.Email, spName)
		}
	}
	if err != nil {
		return err
	}
	return s.audit(ctx, actor, Change{Action: "sp." + verb, User: &u, SP: spName})
}

// SPView is what the audit trail records of a service provider.
func SPView(p sp.ServiceProvider) sp.ServiceProvider {
	p.CreatedAt, p.UpdatedAt = time.Time{}, time.Time{}
	return p
}

// MayEnter reports whether u may sign in to p: p does not require
// assignment, or u is assigned to it. The sign-in, the launcher, the
// account page and the preview all ask this.
func (s *Service) MayEnter(ctx context.Context, u users.User, p sp.ServiceProvider) (bool, error) {
	if !p.AssignmentRequired {
		return true, nil
	}
	assigned, err := s.st.Assignments(ctx, u.ID)
	if err != nil {
		return false, err
	}
	return slices.Contains(assigned, p.Name), nil
}

// Apps returns the service providers u may enter (MayEnter), by name.
func (s *Service) Apps(ctx context.Context, u users.User) ([]sp.ServiceProvider, error) {
	all, err := s.st.ListServiceProviders(ctx)
	if err != nil {
		return nil, err
	}
	assigned, err := s.st.Assignments(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	var out []sp.ServiceProvider
	for _, p := range all {
		if !p.AssignmentRequired || slices.Contains(assigned, p.Name) {
			out = append(out, p)
		}
	}
	return out, nil
}
