package importer

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/users"
)

// TestGroupsColumn: the groups column (CSV) and field (JSON) name the
// user's groups; with GroupCheck, a group that does not exist or groups
// that give conflicting values refuse the row with its line, the field and
// the reason, as a bad value does.
func TestGroupsColumn(t *testing.T) {
	known := map[string]users.Group{
		"sales-es": {Name: "Sales-ES", Team: "Sales-ES"},
		"support":  {Name: "Support", Team: "Support"},
		"chat":     {Name: "Chat"},
	}
	// The store's check is accounts.ImportPlan.CheckGroups; this one has
	// the same shape on a map.
	lookup := GroupCheck(func(u users.User, names []string) ([]string, error) {
		var gs []users.Group
		var out []string
		for _, n := range names {
			g, ok := known[strings.ToLower(n)]
			if !ok {
				return nil, fmt.Errorf("there is no group named %q (create it first: idp groups create --name %q)", n, n)
			}
			gs, out = append(gs, g), append(out, g.Name)
		}
		_, err := users.Effective(u, gs)
		return out, err
	})
	for _, c := range []struct {
		name, file string
		format     Format
		opts       []Option
		groups     [][]string
		problems   []string
	}{
		{"CSV, names as stored", "email,roles,groups\na@example.com,agent,\"sales-es, chat\"\nb@example.com,agent,\n", CSV,
			[]Option{lookup}, [][]string{{"Sales-ES", "Chat"}, nil}, nil},
		{"NDJSON", `{"email":"a@example.com","roles":["agent"],"groups":["Chat"]}` + "\n", NDJSON,
			[]Option{lookup}, [][]string{{"Chat"}}, nil},
		{"unknown group", "email,groups\na@example.com,Chat\nb@example.com,Sales-EN\n", CSV, []Option{lookup}, [][]string{{"Chat"}},
			[]string{`line 3: groups: there is no group named "Sales-EN" (create it first: idp groups create --name "Sales-EN")`}},
		{"conflicting groups", "email,groups\na@example.com,\"Sales-ES,Support\"\n", CSV, []Option{lookup}, nil,
			[]string{`line 2: groups: a@example.com would receive conflicting values of team ("Sales-ES" from group Sales-ES, "Support" from group Support)`}},
		{"the user's own team settles it", "email,team,groups\na@example.com,Mine,\"Sales-ES,Support\"\n", CSV, []Option{lookup},
			[][]string{{"Sales-ES", "Support"}}, nil},
		{"listed twice", "email,groups\na@example.com,\"Chat,chat\"\n", CSV, []Option{lookup}, nil,
			[]string{`line 2: groups: group "chat" is listed twice`}},
		{"no lookup: names kept", "email,groups\na@example.com,Anything\n", CSV, nil, [][]string{{"Anything"}}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := Parse(strings.NewReader(c.file), c.format, c.opts...)
			if err != nil {
				t.Fatal(err)
			}
			var probs []string
			for _, p := range res.Problems {
				probs = append(probs, p.String())
			}
			if len(probs) != len(c.problems) {
				t.Fatalf("problems %q, want %q", probs, c.problems)
			}
			for i := range probs {
				if !strings.HasPrefix(probs[i], c.problems[i]) {
					t.Errorf("problem %q, want %q", probs[i], c.problems[i])
				}
			}
			if len(res.Records) != len(c.groups) {
				t.Fatalf("%d records, want %d", len(res.Records), len(c.groups))
			}
			for i, r := range res.Records {
				if !slices.Equal(r.Groups, c.groups[i]) {
					t.Errorf("record %d groups %q, want %q", i, r.Groups, c.groups[i])
				}
			}
		})
	}
}
