package main

import (
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/samltest"
)

// TestAttributeCommands: set-attr stores typed attributes and refuses a
// value Flex would refuse, naming the attribute, the type and the value,
// writing nothing; sp set adds static attributes and withholds others; the
// preview shows what Flex will get, without signing in. (The Response a
// user with these attributes receives is tested in internal/server,
// TestReleasedAttributesEndToEnd.)
func TestAttributeCommands(t *testing.T) {
	e, _ := sqliteEnv(t)
	setupFlex(t, e)
	e.cli("", "users", "set-attr", "--email", "agent@example.com",
		"channel.chat.capacity=3", "channel.voice.availability=false", "department=Support",
		"team_name_in_hierarchy=London,Sales,VIP", "skills.intarray=1,2,3,4", "sales.boolean=TRUE",
		"languages.stringarray=en,de,fr", "contact_uri=sip:alex@pbx.example.com")
	out := e.cliWant(1, "", "users", "set-attr", "--email", "agent@example.com", "skill.int=1.23", "department=Ops")
	for _, s := range []string{"skill.int", "int", "1.23"} {
		if !strings.Contains(out, s) {
			t.Fatalf("error %q does not name %q", out, s)
		}
	}
	out = e.cli("", "users", "show", "--email", "agent@example.com")
	if !strings.Contains(out, "Support") || strings.Contains(out, "Ops") {
		t.Fatalf("a refused set-attr wrote something:\n%s", out)
	}
	e.cli("", "sp", "set", "--sp", "flex", "--static", "location=London", "--withhold", "contact_uri")

	preview := e.cli("", "users", "preview", "--email", "agent@example.com", "--sp", "flex")
	for _, s := range []string{`"3"`, `"1,2,3,4"`, `"true"`, "location", "London"} {
		if !strings.Contains(preview, s) {
			t.Fatalf("preview lacks %s:\n%s", s, preview)
		}
	}
	if strings.Contains(preview, "contact_uri") {
		t.Fatalf("preview shows a withheld attribute:\n%s", preview)
	}
}

// TestPolicyCommands: sp set takes Pattern B (withheld team and program,
// multi-valued roles, persistent NameID, assignment required) and refuses
// a policy that would break Flex; an unknown role gets a suggestion. (The
// sign-in under that policy is tested in internal/server,
// TestPolicyPatternBAndAssignment.)
func TestPolicyCommands(t *testing.T) {
	e, _ := sqliteEnv(t)
	setupFlex(t, e)
	e.cli("", "sp", "set", "--sp", "flex", "--withhold", "team,program", "--roles-format", "multi",
		"--name-id", "persistent", "--assignment-required")
	e.cliWant(1, "", "sp", "set", "--sp", "flex", "--withhold", "roles")
	e.cliWant(1, "", "sp", "set", "--sp", "flex", "--session-not-on-or-after", "30m")
	out := e.cliWant(1, "", "users", "update", "--email", "agent@example.com", "--roles", "superviser")
	if !strings.Contains(out, `did you mean "supervisor"`) {
		t.Fatalf("unknown role error lacks a suggestion: %s", out)
	}
	// The preview says when the user is not assigned, and still shows what
	// assignment would release.
	preview := e.cli("", "users", "preview", "--email", "sam.supervisor@example.com", "--sp", "flex")
	samltest.MustContain(t, preview, "the user is not assigned to it: the sign-in would be refused", "NameID")
	e.cli("", "sp", "assign", "--sp", "flex", "--email", "sam.supervisor@example.com")
	if preview := e.cli("", "users", "preview", "--email", "sam.supervisor@example.com", "--sp", "flex"); strings.Contains(preview, "not assigned") {
		t.Fatalf("preview of an assigned user warns:\n%s", preview)
	}
	samltest.MustContain(t, e.cli("", "sp", "show", "--sp", "flex"), "team", "multi", "persistent")
}
