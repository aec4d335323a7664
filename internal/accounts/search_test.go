package accounts_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/users"
)

// addUsers stores n users directly (no password hashing): user-00 to
// user-NN, every third a supervisor on team Red.
func (f *fixture) addUsers(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		u := users.User{ID: fmt.Sprintf("id-%03d", i), Email: fmt.Sprintf("User-%03d@example.com", i),
			FullName: fmt.Sprintf("User %d", i), Roles: []string{"agent"}}
		if i%3 == 0 {
			u.Roles, u.Team = []string{"supervisor"}, "Red"
		}
		if err := f.st.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSearchUsersPages(t *testing.T) {
	f := newFixture(t)
	f.addUsers(t, 60)
	for _, tc := range []struct {
		name  string
		q     accounts.UserQuery
		pages []int // page sizes, in order
		total int
	}{
		{"default page of 50", accounts.UserQuery{}, []int{50, 10}, 60},
		{"limit 25", accounts.UserQuery{Limit: 25}, []int{25, 25, 10}, 60},
		{"exact last page has no next", accounts.UserQuery{Limit: 20}, []int{20, 20, 20}, 60},
		{"role", accounts.UserQuery{Role: "supervisor", Limit: 7}, []int{7, 7, 6}, 20},
		{"team and query", accounts.UserQuery{Team: "Red", Query: "USER-00", Limit: 3}, []int{3, 1}, 4},
		{"nobody", accounts.UserQuery{Role: "admin"}, []int{0}, 0},
		{"limit 200", accounts.UserQuery{Limit: accounts.MaxUserPage}, []int{60}, 60},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			var seen []string
			var sizes []int
			for range len(tc.pages) + 1 {
				page, err := f.svc.SearchUsers(t.Context(), q)
				if err != nil {
					t.Fatal(err)
				}
				if page.Total != tc.total {
					t.Fatalf("page %d: Total %d, want %d", len(sizes), page.Total, tc.total)
				}
				sizes = append(sizes, len(page.Users))
				for _, u := range page.Users {
					seen = append(seen, u.ID)
				}
				if page.Next == "" {
					break
				}
				q.After = page.Next
			}
			if fmt.Sprint(sizes) != fmt.Sprint(tc.pages) {
				t.Fatalf("page sizes %v, want %v", sizes, tc.pages)
			}
			for i := 1; i < len(seen); i++ {
				if seen[i-1] >= seen[i] {
					t.Fatalf("users out of order or repeated: %s then %s", seen[i-1], seen[i])
				}
			}
		})
	}
}

func TestSearchUsersRefusesBadQueries(t *testing.T) {
	f := newFixture(t)
	f.addUsers(t, 3)
	page, err := f.svc.SearchUsers(t.Context(), accounts.UserQuery{Limit: 1})
	if err != nil || page.Next == "" {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name string
		q    accounts.UserQuery
		want string // in the message
	}{
		{"negative limit", accounts.UserQuery{Limit: -1}, "between 1 and 200"},
		{"limit above 200", accounts.UserQuery{Limit: 201}, "between 1 and 200"},
		{"cursor not base64", accounts.UserQuery{After: "not a cursor!"}, "page cursor"},
		{"cursor of padded base64", accounts.UserQuery{After: page.Next + "=="}, "page cursor"},
		{"cursor not JSON", accounts.UserQuery{After: b64("alice@example.com")}, "page cursor"},
		{"cursor of one part", accounts.UserQuery{After: b64(`["alice@example.com"]`)}, "page cursor"},
		{"cursor of three parts", accounts.UserQuery{After: b64(`["a","b","c"]`)}, "page cursor"},
		{"cursor with an empty ID", accounts.UserQuery{After: b64(`["a@example.com",""]`)}, "page cursor"},
		{"cursor of numbers", accounts.UserQuery{After: b64(`[1,2]`)}, "page cursor"},
		{"query too long", accounts.UserQuery{Query: strings.Repeat("a", 257)}, "search text"},
		{"role not UTF-8", accounts.UserQuery{Role: "\xff"}, "role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.SearchUsers(t.Context(), tc.q)
			if code(err) != accounts.Invalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("SearchUsers(%+v) = %v (code %q), want Invalid mentioning %q", tc.q, err, code(err), tc.want)
			}
		})
	}
}
