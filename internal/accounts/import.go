package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// PlanImport counts what ApplyImport would do with us, by the store's own
// merge rule (store.MergeImport), without writing anything.
func (s *Service) PlanImport(ctx context.Context, us []users.User) (store.ImportResult, error) {
	var r store.ImportResult
	if err := store.CheckImportEmails(us); err != nil {
		return r, invalid(err)
	}
	existing, err := s.st.ListUsers(ctx, store.UserFilter{})
	if err != nil {
		return r, err
	}
	byEmail := make(map[string]users.User, len(existing))
	ids := make(map[string]bool, len(existing))
	for _, u := range existing {
		byEmail[strings.ToLower(u.Email)] = u
		ids[u.ID] = true
	}
	for _, u := range us {
		old, ok := byEmail[strings.ToLower(u.Email)]
		switch {
		case !ok && u.ID != "" && ids[u.ID]:
			return r, errorf(Conflict, "User %s: the ID %s in the file belongs to another user.", u.Email, u.ID)
		case !ok:
			r.Created++
		default:
			if _, changed := store.MergeImport(old, u); changed {
				r.Updated++
			} else {
				r.Unchanged++
			}
		}
	}
	return r, nil
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
