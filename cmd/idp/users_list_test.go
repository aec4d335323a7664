package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/users"
)

// TestUsersListPages: --role and --team filter, --limit lists one page and
// prints how to get the next, and following the hints lists every user
// once, in order, in the usual table.
func TestUsersListPages(t *testing.T) {
	e, st := sqliteEnv(t)
	for i, email := range []string{"Eve@example.com", "ada@example.com", "Émile@example.com", "bob@example.com", "Carl@example.com"} {
		u := users.User{ID: fmt.Sprintf("u%d", i), Email: email, FullName: "User", Roles: []string{"agent"}, Team: "Blue"}
		if i%2 == 0 {
			u.Roles, u.Team = []string{"agent", "supervisor"}, "Red"
		}
		if err := st.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	emails := func(out string) []string {
		var got []string
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 0 && strings.Contains(f[0], "@") {
				got = append(got, f[0])
			}
		}
		return got
	}
	hint := regexp.MustCompile(`(?m)^next page: --after (\S+)$`)

	if got := emails(e.cli("", "users", "list", "--role", "supervisor")); fmt.Sprint(got) != "[Carl@example.com Eve@example.com Émile@example.com]" {
		t.Fatalf("--role supervisor: %v", got)
	}
	if got := emails(e.cli("", "users", "list", "--team", "Blue", "--role", "agent")); fmt.Sprint(got) != "[ada@example.com bob@example.com]" {
		t.Fatalf("--team Blue --role agent: %v", got)
	}
	out := e.cli("", "users", "list")
	if hint.MatchString(out) || !strings.HasPrefix(out, "EMAIL") || len(emails(out)) != 5 {
		t.Fatalf("users list without --limit:\n%s", out)
	}

	var got []string
	args := []string{"users", "list", "--limit", "2"}
	for pages := 1; ; pages++ {
		out := e.cli("", args...)
		if !strings.HasPrefix(out, "EMAIL\tNAME") && !strings.HasPrefix(out, "EMAIL ") {
			t.Fatalf("page %d is not the usual table:\n%s", pages, out)
		}
		got = append(got, emails(out)...)
		m := hint.FindStringSubmatch(out)
		if m == nil {
			break
		}
		if pages > 3 {
			t.Fatalf("more than 3 pages of 2 for 5 users:\n%s", out)
		}
		args = []string{"users", "list", "--limit", "2", "--after", m[1]}
	}
	if want := "[ada@example.com bob@example.com Carl@example.com Eve@example.com Émile@example.com]"; fmt.Sprint(got) != want {
		t.Fatalf("paged users %v, want %s", got, want)
	}

	if out := e.cliWant(1, "", "users", "list", "--after", "nonsense"); !strings.Contains(out, "page cursor is not one this list gave") {
		t.Fatalf("bad cursor: %s", out)
	}
	if out := e.cliWant(2, "", "users", "list", "--limit", "500"); !strings.Contains(out, "between 1 and 200") {
		t.Fatalf("bad limit: %s", out)
	}
}
