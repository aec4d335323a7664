package accounts

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"sync"
	"unicode/utf8"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// Page sizes of SearchUsers.
const (
	DefaultUserPage = 50
	MaxUserPage     = 200
)

// maxSearchText caps the text fields of a UserQuery, in characters.
const maxSearchText = 256

// UserQuery is a search of the users list (the admin console's users page,
// idp users list). The zero value is the first page of everyone.
type UserQuery struct {
	// Query matches a substring of email or full name, case-insensitively.
	Query string
	// Role and Team keep the users with exactly this Flex role, this team.
	Role, Team string
	// NoRole keeps the users without any Flex role.
	NoRole bool
	// Disabled keeps only disabled (true) or only enabled (false) users;
	// nil keeps both.
	Disabled *bool
	// After is the Next of the previous page; "" is the first page.
	After string
	// Limit is the page size, 1 to MaxUserPage; 0 means DefaultUserPage.
	Limit int
}

// UserPage is one page of a SearchUsers answer.
type UserPage struct {
	// Users are in the list's order: case-folded email, then ID.
	Users []users.User
	// Next is the After of the following page; "" when this is the last.
	Next string
	// Total is how many users match the query on all pages.
	Total int
}

// SearchUsers returns one page of the users matching q, and how many match
// in all. Paging is by keyset: a page costs the same deep in the list as at
// its start, and users added or removed meanwhile neither repeat nor skip
// the others. The page and the total are read concurrently (not in one
// snapshot), so a change in between may make them differ by that change.
func (s *Service) SearchUsers(ctx context.Context, q UserQuery) (UserPage, error) {
	f, err := q.filter()
	if err != nil {
		return UserPage{}, err
	}
	var (
		wg       sync.WaitGroup
		total    int
		countErr error
	)
	wg.Go(func() { total, countErr = s.st.CountUsers(ctx, f) })
	limit := f.Limit
	more := f
	more.Limit++ // one more tells whether a next page exists
	list, err := s.st.ListUsers(ctx, more)
	wg.Wait()
	if err != nil {
		return UserPage{}, err
	}
	if countErr != nil {
		return UserPage{}, countErr
	}
	page := UserPage{Users: list, Total: total}
	if len(list) > limit {
		page.Users = list[:limit]
		page.Next = encodeCursor(store.CursorOf(list[limit-1]))
	}
	return page, nil
}

// filter checks q and returns its store filter.
func (q UserQuery) filter() (store.UserFilter, error) {
	f := store.UserFilter{Query: q.Query, Role: q.Role, NoRole: q.NoRole, Team: q.Team, Disabled: q.Disabled, Limit: q.Limit}
	switch {
	case q.Limit == 0:
		f.Limit = DefaultUserPage
	case q.Limit < 0 || q.Limit > MaxUserPage:
		return f, errorf(Invalid, "The page size must be between 1 and %d (got %d).", MaxUserPage, q.Limit)
	}
	for _, t := range []struct{ what, v string }{{"search text", q.Query}, {"role", q.Role}, {"team", q.Team}} {
		if !utf8.ValidString(t.v) || utf8.RuneCountInString(t.v) > maxSearchText {
			return f, errorf(Invalid, "The %s must be valid text of at most %d characters.", t.what, maxSearchText)
		}
	}
	if q.After != "" {
		c, ok := decodeCursor(q.After)
		if !ok {
			return f, errorf(Invalid, "The page cursor is not one this list gave; start again from the first page.")
		}
		f.After = c
	}
	return f, nil
}

// A cursor is base64url (no padding) of the JSON array [email, id]: opaque
// to its users, and safe in a URL and on a command line.
func encodeCursor(c store.UserCursor) string {
	b, _ := json.Marshal([2]string{c.Email, c.ID}) // strings always encode
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (store.UserCursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return store.UserCursor{}, false
	}
	var v []string
	if err := json.Unmarshal(b, &v); err != nil || len(v) != 2 || v[0] == "" || v[1] == "" {
		return store.UserCursor{}, false
	}
	return store.UserCursor{Email: v[0], ID: v[1]}, true
}
