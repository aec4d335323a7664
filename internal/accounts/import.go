package accounts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/flexidp/flexidp/internal/importer"
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

// MaxNoRoleLines is how many lines of users without a role an ImportCheck
// names.
const MaxNoRoleLines = 10

// ImportCheck is what a users file holds and what importing it would do:
// the one reading of a file for idp users import (with or without
// --dry-run) and the console's Import page.
type ImportCheck struct {
	// Format is the format read, given or detected.
	Format importer.Format
	// Rows is the number of user rows in the file; Valid of them have no
	// problem.
	Rows, Valid int
	// Problems are every problem found (line, field, reason), by line.
	Problems []importer.Problem
	// Plan counts what applying the valid users would do now.
	Plan store.ImportResult
	// NoRole counts the valid users without a Flex role (Flex refuses them
	// until they have one); NoRoleLines are the first MaxNoRoleLines of
	// their lines.
	NoRole      int
	NoRoleLines []int
	// Users are the valid users in file order, when CheckImport was asked
	// to keep them.
	Users []users.User
	// Memberships are the groups the kept users' rows name, in the order
	// first named, with the emails of their members (an import adds
	// memberships; it never removes one).
	Memberships []ImportMembership
}

// ImportMembership is a group and the imported users a file adds to it.
type ImportMembership struct {
	Group  string
	Emails []string
}

// ApplyCheckedImport writes a checked file (CheckImport with keep): its
// users in one transaction (ApplyImport), then each group's new members
// through AddMembers, which audits each and refuses a conflict. The
// users stay imported when a membership is refused; the error says which
// group was not filled.
func (s *Service) ApplyCheckedImport(ctx context.Context, actor Actor, c *ImportCheck, progress func(done, total int)) (store.ImportResult, error) {
	var r store.ImportResult
	if c.Plan.Created+c.Plan.Updated > 0 {
		var err error
		if r, err = s.ApplyImport(ctx, actor, c.Users, progress); err != nil {
			return r, err
		}
	} else {
		r = c.Plan
	}
	for _, m := range c.Memberships {
		if err := s.AddMembers(ctx, actor, m.Group, m.Emails...); err != nil {
			return r, fmt.Errorf("the users were imported, but not the members of group %s: %w", m.Group, err)
		}
	}
	return r, nil
}

// BadRows is the number of rows with at least one problem.
func (c *ImportCheck) BadRows() int { return c.Rows - c.Valid }

// Ready returns nil when the file can be imported whole: it has users and
// no row has a problem. Otherwise it is the Invalid error that says why
// nothing is written.
func (c *ImportCheck) Ready() error {
	switch {
	case len(c.Problems) > 0:
		return errorf(Invalid, "%d of %d rows have problems (listed with their lines); nothing was imported: fix them and upload the file again.", c.BadRows(), c.Rows)
	case c.Valid == 0:
		return errorf(Invalid, "The file holds no users; nothing was imported.")
	}
	return nil
}

// CheckImport reads a users file in format f ("" to detect it) and counts
// what importing it would do, without writing. The file is read as a
// stream: each user is compared with the stored one as soon as it is read,
// so without keep a file of a million users needs memory for a million
// emails, not a million users; with keep the valid users are returned in
// Users, for ApplyImport. A file that cannot be read as users (unknown
// format, too large) is an Invalid error whose message says why; what is
// wrong inside the file is in Problems. A user whose ID belongs to another
// stored user stops the check with a Conflict naming the line.
func (s *Service) CheckImport(ctx context.Context, r io.Reader, f importer.Format, keep bool) (*ImportCheck, error) {
	plan, err := s.NewImportPlan(ctx)
	if err != nil {
		return nil, err
	}
	c := &ImportCheck{}
	var kept []importer.Record
	sum, err := importer.Scan(r, f, func(rec importer.Record) error {
		if len(rec.User.Roles) == 0 {
			c.NoRole++
			if len(c.NoRoleLines) < MaxNoRoleLines {
				c.NoRoleLines = append(c.NoRoleLines, rec.Line)
			}
		}
		if err := plan.Add(rec.User); err != nil {
			if e, ok := err.(*Error); ok {
				return &Error{Code: e.Code, Message: fmt.Sprintf("Line %d: %s", rec.Line, e.Message), Err: e.Err}
			}
			return err
		}
		if keep {
			kept = append(kept, rec)
		}
		return nil
	}, importer.GroupCheck(plan.CheckGroups))
	switch {
	case errors.Is(err, importer.ErrFormat):
		msg := strings.TrimPrefix(err.Error(), importer.ErrFormat.Error()+": ")
		return nil, &Error{Code: Invalid, Err: err, Message: "This is not a users file flexidp reads (CSV, JSON, NDJSON, Auth0 or Okta): " + msg + "."}
	case errors.Is(err, importer.ErrTooLarge):
		return nil, &Error{Code: Invalid, Err: err, Message: fmt.Sprintf("The file is larger than %d MiB; split it.", importer.MaxFileSize>>20)}
	case err != nil:
		return nil, err
	}
	c.Format, c.Rows, c.Valid, c.Problems = sum.Format, sum.Rows, sum.Valid, sum.Problems
	c.Plan = plan.Result(sum.Retracted)
	if keep {
		retracted := make(map[string]bool, len(sum.Retracted))
		for _, e := range sum.Retracted {
			retracted[e] = true
		}
		byGroup := map[string]int{}
		for _, rec := range kept {
			if retracted[strings.ToLower(rec.User.Email)] {
				continue
			}
			c.Users = append(c.Users, rec.User)
			for _, g := range rec.Groups {
				i, ok := byGroup[g]
				if !ok {
					i = len(c.Memberships)
					byGroup[g] = i
					c.Memberships = append(c.Memberships, ImportMembership{Group: g})
				}
				c.Memberships[i].Emails = append(c.Memberships[i].Emails, rec.User.Email)
			}
		}
	}
	return c, nil
}
