package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/store"
)

// TestGroupCommands: idp groups create, list, show, add, set, remove and
// delete on both store backends; idp users show and preview give the
// effective profile with the source of each value; a membership that
// would give two different teams is refused with a sentence naming the
// user, the attribute and the groups, and nothing changes.
func TestGroupCommands(t *testing.T) {
	for _, backend := range []struct {
		name string
		env  func(t *testing.T) *testEnv
	}{
		{"sqlite", func(t *testing.T) *testEnv { e, _ := sqliteEnv(t); return e }},
		{"postgres", newTestEnv},
	} {
		t.Run(backend.name, func(t *testing.T) {
			e := backend.env(t)
			setupFlex(t, e)
			out := e.cli("", "groups", "create", "--actor", "ops", "--name", "Sales-ES", "--roles", "agent,wfo.team_leader",
				"--team", "Sales-ES", "--description", "Spanish sales", "skills.stringarray=spanish,sales", "channel.chat.capacity=3")
			samltest.MustContain(t, out, "created group Sales-ES")
			samltest.MustContain(t, e.cliWant(1, "", "groups", "create", "--name", "SALES-es"), `A group named "SALES-es" already exists`)
			samltest.MustContain(t, e.cliWant(1, "", "groups", "create", "--name", "Bad", "channel.chat.capacity=-1"), "channel.chat.capacity", "negative")
			samltest.MustContain(t, e.cliWant(2, "", "groups", "add", "--group", "Sales-ES"), "give at least one user")
			samltest.MustContain(t, e.cliWant(1, "", "groups", "show", "--group", "nope"), `There is no group named "nope"`)

			samltest.MustContain(t, e.cli("", "groups", "add", "--group", "sales-es", "agent@example.com", "Sam.Supervisor@example.com"),
				"added 2 user(s) to group Sales-ES")
			samltest.MustContain(t, e.cli("", "groups", "list"), "Sales-ES", "agent,wfo.team_leader", "channel.chat.capacity,skills.stringarray")
			samltest.MustContain(t, e.cli("", "groups", "show", "--group", "Sales-ES"), "members:", "2", "agent@example.com", "Sam.Supervisor@Example.com")

			show := e.cli("", "users", "show", "--email", "agent@example.com")
			samltest.MustContain(t, show, "groups:", "Sales-ES",
				"effective roles:", "agent,wfo.team_leader  (user, group Sales-ES)",
				"effective team:", "Sales-ES  (group Sales-ES)",
				"effective channel.chat.capacity:", "3  (group Sales-ES)")
			// Sam has a team of his own: it wins.
			samltest.MustContain(t, e.cli("", "users", "show", "--email", "sam.supervisor@example.com"), "Sales  (user)")
			preview := e.cli("", "users", "preview", "--email", "agent@example.com", "--sp", "flex")
			samltest.MustContain(t, preview, `"Sales-ES"`, "(group Sales-ES)", `"spanish,sales"`, "(user)")

			e.cli("", "groups", "create", "--name", "Support", "--team", "Support")
			refused := e.cliWant(1, "", "groups", "add", "--group", "Support", "agent@example.com")
			samltest.MustContain(t, refused, `agent@example.com would receive conflicting values of team ("Sales-ES" from group Sales-ES, "Support" from group Support)`)
			if strings.Contains(e.cli("", "groups", "show", "--group", "Support"), "agent@example.com") {
				t.Fatal("a refused add added the user")
			}

			samltest.MustContain(t, e.cli("", "groups", "set", "--group", "Sales-ES", "--unset-attr", "channel.chat.capacity", "skills.stringarray=spanish"),
				"updated group Sales-ES")
			show = e.cli("", "users", "show", "--email", "agent@example.com")
			if strings.Contains(show, "channel.chat.capacity") || !strings.Contains(show, "effective skills.stringarray:") {
				t.Fatalf("after groups set:\n%s", show)
			}
			samltest.MustContain(t, e.cli("", "groups", "remove", "--group", "Sales-ES", "agent@example.com"), "removed 1 user(s) from group Sales-ES")
			samltest.MustContain(t, e.cli("", "groups", "delete", "--group", "Sales-ES"), "deleted group Sales-ES")
			show = e.cli("", "users", "show", "--email", "sam.supervisor@example.com")
			if strings.Contains(show, "Sales-ES") {
				t.Fatalf("a deleted group still shows:\n%s", show)
			}
			samltest.MustContain(t, e.cli("", "audit", "search", "--action", "admin.group.add"), "ops")
		})
	}
}

// TestImportGroupsColumn: the groups column makes imported users members;
// a row naming a group that does not exist is refused with its line, the
// field and the reason, in the dry run too, and nothing is written.
func TestImportGroupsColumn(t *testing.T) {
	e, st := sqliteEnv(t)
	e.cli("", "groups", "create", "--name", "Sales-ES", "--roles", "agent", "--team", "Sales-ES")
	dir := t.TempDir()
	write := func(name, body string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad.csv", "email,roles,groups\nana@example.com,,sales-es\nluis@example.com,agent,Sales-EN\n")
	for _, dry := range []bool{true, false} {
		args := []string{"users", "import", bad}
		if dry {
			args = append(args, "--dry-run")
		}
		out := e.cliWant(1, "", args...)
		samltest.MustContain(t, out, `line 3: groups: there is no group named "Sales-EN"`, "nothing was imported")
	}
	if list, _ := st.ListUsers(t.Context(), store.UserFilter{}); len(list) != 0 {
		t.Fatalf("%d users written by a refused import", len(list))
	}
	good := write("good.ndjson", `{"email":"ana@example.com","groups":["sales-es"]}`+"\n"+`{"email":"luis@example.com","roles":["supervisor"]}`+"\n")
	samltest.MustContain(t, e.cli("", "users", "import", good), "imported 2 users: 2 created", "group Sales-ES: 1 member listed")
	samltest.MustContain(t, e.cli("", "users", "show", "--email", "ana@example.com"), "groups:", "effective roles:", "agent  (group Sales-ES)")
	samltest.MustContain(t, e.cli("", "users", "import", good), "nothing to change")
	// An import that drops the own team of a member of two groups that
	// disagree on the team would uncover their conflict: refused, with
	// the row's line, in the dry run too.
	e.cli("", "groups", "create", "--name", "Support", "--team", "Support")
	e.cli(password+"\n", "users", "add", "--email", "mia@example.com", "--roles", "agent", "--team", "Mine")
	e.cli("", "groups", "add", "--group", "Sales-ES", "mia@example.com")
	e.cli("", "groups", "add", "--group", "Support", "mia@example.com")
	drop := write("drop.csv", "email,roles\nmia@example.com,agent\n")
	for _, args := range [][]string{{"users", "import", drop, "--dry-run"}, {"users", "import", drop}} {
		samltest.MustContain(t, e.cliWant(1, "", args...),
			`line 2: groups: mia@example.com would receive conflicting values of team ("Sales-ES" from group Sales-ES, "Support" from group Support)`)
	}
	samltest.MustContain(t, e.cli("", "users", "show", "--email", "mia@example.com"), "Mine  (user)")
	// Export writes the memberships back, in a form import reads.
	samltest.MustContain(t, e.cli("", "users", "export"), `"email":"ana@example.com"`, `"groups":["Sales-ES"]`)
	csv := e.cli("", "users", "export", "--format", "csv")
	samltest.MustContain(t, csv, "disabled,id,groups")
	samltest.MustContain(t, e.cli("", "users", "import", "--dry-run", write("export.csv", strings.SplitN(csv, "exported", 2)[0])),
		"dry run: 0 would be created, 0 updated, 3 unchanged")
	if evs := e.cli("", "audit", "search", "--action", "admin.group.member-add"); strings.Count(evs, "ana@example.com") != 1 {
		t.Fatalf("importing twice audited the membership other than once:\n%s", evs)
	}
}
