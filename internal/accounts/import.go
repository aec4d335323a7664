package accounts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// ImportPlan counts what ApplyImport would do with users given one at a
// time, by the store's own merge rule (store.MergeImport), without
// writing: a file read as a stream needs memory for its emails, not its
// users.
type ImportPlan struct {
	byEmail  map[string]users.User // the stored users
	ids      map[string]bool
	outcome  map[string]byte          // lower-cased email -> 'c'reated, 'u'pdated, 'n'ot changed
	groups   map[string]users.Group   // the stored groups, by lower-cased name
	groupsOf map[string][]users.Group // the stored memberships, by user ID
}

// NewImportPlan starts a plan against the users and groups stored now.
func (s *Service) NewImportPlan(ctx context.Context) (*ImportPlan, error) {
	existing, err := s.st.ListUsers(ctx, store.UserFilter{})
	if err != nil {
		return nil, err
	}
	p := &ImportPlan{byEmail: make(map[string]users.User, len(existing)), ids: make(map[string]bool, len(existing)), outcome: map[string]byte{},
		groups: map[string]users.Group{}, groupsOf: map[string][]users.Group{}}
	for _, u := range existing {
		p.byEmail[strings.ToLower(u.Email)] = u
		p.ids[u.ID] = true
	}
	gs, err := s.st.ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	for _, g := range gs {
		p.groups[strings.ToLower(g.Name)] = g
		members, err := s.st.GroupMembers(ctx, g.ID)
		if err != nil {
			return nil, err
		}
		for _, m := range members {
			p.groupsOf[m.ID] = append(p.groupsOf[m.ID], g)
		}
	}
	return p, nil
}

// CheckGroups is the import's rule for the groups of u, a user of the
// file, who names the groups names: each must exist, and u's profile as
// the import would store it, merged with their groups (the stored ones
// and those named), must have no conflict (users.Effective). It returns
// the names as stored. For importer.GroupCheck, which refuses the row
// with the error's sentence.
func (p *ImportPlan) CheckGroups(u users.User, names []string) ([]string, error) {
	merged := u
	var gs []users.Group
	if old, ok := p.byEmail[strings.ToLower(u.Email)]; ok {
		merged, _ = store.MergeImport(old, u)
		gs = slices.Clone(p.groupsOf[old.ID])
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		g, ok := p.groups[strings.ToLower(n)]
		if !ok {
			return nil, fmt.Errorf("there is no group named %q (create it first: idp groups create --name %q)", n, n)
		}
		out = append(out, g.Name)
		if !slices.ContainsFunc(gs, func(x users.Group) bool { return x.ID == g.ID }) {
			gs = append(gs, g)
		}
	}
	if len(gs) == 0 {
		return out, nil
	}
	_, err := users.Effective(merged, gs)
	return out, err
}

// Add counts what importing u would do. A new user whose ID belongs to
// another stored user is a Conflict.
func (p *ImportPlan) Add(u users.User) error {
	k := strings.ToLower(u.Email)
	old, ok := p.byEmail[k]
	switch {
	case !ok && u.ID != "" && p.ids[u.ID]:
		return errorf(Conflict, "User %s: the ID %s in the file belongs to another user.", u.Email, u.ID)
	case !ok:
		p.outcome[k] = 'c'
	default:
		if _, changed := store.MergeImport(old, u); changed {
			p.outcome[k] = 'u'
		} else {
			p.outcome[k] = 'n'
		}
	}
	return nil
}

// Result counts the outcomes, leaving out the emails retracted (rows found
// to be duplicates after they were added).
func (p *ImportPlan) Result(retracted []string) store.ImportResult {
	for _, k := range retracted {
		delete(p.outcome, strings.ToLower(k))
	}
	var r store.ImportResult
	for _, o := range p.outcome {
		switch o {
		case 'c':
			r.Created++
		case 'u':
			r.Updated++
		case 'n':
			r.Unchanged++
		}
	}
	return r
}

// PlanImport counts what ApplyImport would do with us, without writing.
func (s *Service) PlanImport(ctx context.Context, us []users.User) (store.ImportResult, error) {
	if err := store.CheckImportEmails(us); err != nil {
		return store.ImportResult{}, invalid(err)
	}
	p, err := s.NewImportPlan(ctx)
	if err != nil {
		return store.ImportResult{}, err
	}
	for _, u := range us {
		if err := p.Add(u); err != nil {
			return store.ImportResult{}, err
		}
	}
	return p.Result(nil), nil
}

// ApplyImport upserts us by email in one transaction: all or nothing. New
// users without an ID get one. progress, if not nil, observes the writing.
// The import is recorded with its counts.
func (s *Service) ApplyImport(ctx context.Context, actor Actor, us []users.User, progress func(done, total int)) (store.ImportResult, error) {
	for i := range us {
		if us[i].ID == "" {
			us[i].ID = s.NewUserID()
		}
	}
	if progress != nil {
		ctx = store.WithImportProgress(ctx, progress)
	}
	r, err := s.st.ImportUsers(ctx, us)
	switch {
	case errors.Is(err, store.ErrConflict):
		return r, &Error{Code: Conflict, Err: err,
			Message: fmt.Sprintf("Nothing was imported: %v (a user ID in the file belongs to another email?)", err)}
	case err != nil:
		return r, fmt.Errorf("nothing was imported: %w", err)
	}
	if r.Created+r.Updated == 0 {
		return r, nil
	}
	return r, s.audit(ctx, actor, Change{Action: "user.import",
		Reason: fmt.Sprintf("%d created, %d updated, %d unchanged", r.Created, r.Updated, r.Unchanged)})
}
