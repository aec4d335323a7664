package accounts

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	byEmail map[string]users.User // the stored users
	ids     map[string]bool
	outcome map[string]byte // lower-cased email -> 'c'reated, 'u'pdated, 'n'ot changed
}

// NewImportPlan starts a plan against the users stored now.
func (s *Service) NewImportPlan(ctx context.Context) (*ImportPlan, error) {
	existing, err := s.st.ListUsers(ctx, store.UserFilter{})
	if err != nil {
		return nil, err
	}
	p := &ImportPlan{byEmail: make(map[string]users.User, len(existing)), ids: make(map[string]bool, len(existing)), outcome: map[string]byte{}}
	for _, u := range existing {
		p.byEmail[strings.ToLower(u.Email)] = u
		p.ids[u.ID] = true
	}
	return p, nil
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
	})
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
		for _, rec := range kept {
			if !retracted[strings.ToLower(rec.User.Email)] {
				c.Users = append(c.Users, rec.User)
			}
		}
	}
	return c, nil
}
