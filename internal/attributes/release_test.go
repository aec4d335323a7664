package attributes_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/attributes"
)

// mary is a complete Pattern A user.
func mary(t testing.TB) attributes.Subject {
	t.Helper()
	return attributes.Subject{
		ID:       "u_01HZX",
		Email:    "mary@example.com",
		FullName: "Mary Smith",
		ImageURL: "https://example.com/mary.png",
		Roles:    []string{"supervisor", "agent"},
		Team:     "Sales",
		Program:  "EMEA",
		Custom: mustSet(t,
			"skills.intarray", "1,2,3,4",
			"languages.stringarray", "en,de,fr",
			"sales.boolean", "true",
			"channel.chat.capacity", "3",
			"channel.voice.availability", "false",
			"department", "Sales",
			"tags.array", "",
		),
	}
}

// minimal reduces a subject to its mandatory attributes.
func minimal(s *attributes.Subject) {
	s.Custom = nil
	s.ImageURL, s.Team, s.Program = "", "", ""
}

// releaseMary releases mary, changed by edit (when not nil), under p.
func releaseMary(t *testing.T, edit func(*attributes.Subject), p attributes.Policy) (attributes.Released, error) {
	t.Helper()
	s := mary(t)
	if edit != nil {
		edit(&s)
	}
	return attributes.Release(s, p)
}

// format renders Released as one line per attribute, for readable diffs.
func format(r attributes.Released) string {
	var b strings.Builder
	fmt.Fprintf(&b, "NameID %s %s\n", r.NameID, r.NameIDFormat)
	for _, a := range r.Attributes {
		fmt.Fprintf(&b, "%s=%s\n", a.Name, strings.Join(a.Values, " | "))
	}
	return b.String()
}

func TestRelease(t *testing.T) {
	const maryNameID = "NameID mary@example.com " + attributes.NameIDFormatEmail + "\n"
	const maryMandatory = "email=mary@example.com\nfull_name=Mary Smith\nroles=supervisor,agent\n"
	tests := []struct {
		desc   string
		edit   func(*attributes.Subject)
		policy attributes.Policy
		want   string
	}{
		{
			desc: "default policy",
			want: maryNameID + maryMandatory +
				"image_url=https://example.com/mary.png\nteam=Sales\nprogram=EMEA\n" +
				"channel.chat.capacity=3\nchannel.voice.availability=false\ndepartment=Sales\n" +
				"languages.stringarray=en,de,fr\nsales.boolean=true\nskills.intarray=1,2,3,4\n",
		},
		{
			desc:   "pattern B withholds team and program",
			policy: attributes.Policy{Withhold: []string{"team", "program"}},
			want: maryNameID + maryMandatory +
				"image_url=https://example.com/mary.png\n" +
				"channel.chat.capacity=3\nchannel.voice.availability=false\ndepartment=Sales\n" +
				"languages.stringarray=en,de,fr\nsales.boolean=true\nskills.intarray=1,2,3,4\n",
		},
		{
			desc:   "release patterns, matching base names too",
			policy: attributes.Policy{Release: []string{"channel.*", "skills", "team"}, Withhold: []string{"channel.*.availability"}},
			want: maryNameID + maryMandatory +
				"team=Sales\nchannel.chat.capacity=3\nskills.intarray=1,2,3,4\n",
		},
		{
			desc: "static attributes, the user's own value wins",
			policy: attributes.Policy{Static: mustSet(t,
				"department", "Support",
				"location", "London",
				"sales.boolean.boolean", "false",
				"channel.chat.capacity.int", "1",
			)},
			want: maryNameID + maryMandatory +
				"image_url=https://example.com/mary.png\nteam=Sales\nprogram=EMEA\n" +
				"channel.chat.capacity=3\nchannel.voice.availability=false\ndepartment=Sales\n" +
				"languages.stringarray=en,de,fr\nlocation=London\nsales.boolean=true\n" +
				"sales.boolean.boolean=false\nskills.intarray=1,2,3,4\n",
		},
		{
			desc:   "multi-valued roles",
			edit:   minimal,
			policy: attributes.Policy{RolesFormat: attributes.RolesMulti},
			want:   maryNameID + "email=mary@example.com\nfull_name=Mary Smith\nroles=supervisor | agent\n",
		},
		{
			desc:   "persistent NameID",
			edit:   minimal,
			policy: attributes.Policy{NameID: attributes.NameIDPersistent},
			want:   "NameID u_01HZX " + attributes.NameIDFormatPersistent + "\n" + maryMandatory,
		},
		{
			desc:   "default roles for a user without one",
			edit:   func(s *attributes.Subject) { minimal(s); s.Roles = nil },
			policy: attributes.Policy{DefaultRoles: []string{"agent"}},
			want:   maryNameID + "email=mary@example.com\nfull_name=Mary Smith\nroles=agent\n",
		},
		{
			desc:   "a user's own roles beat the default",
			edit:   minimal,
			policy: attributes.Policy{DefaultRoles: []string{"agent"}},
			want:   maryNameID + maryMandatory,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r, err := releaseMary(t, tt.edit, tt.policy)
			if err != nil {
				t.Fatalf("Release: %v", err)
			}
			if got := format(r); got != tt.want {
				t.Errorf("Release =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestReleaseNoRole(t *testing.T) {
	s := mary(t)
	s.Roles = nil
	r, err := attributes.Release(s, attributes.Policy{})
	if !errors.Is(err, attributes.ErrNoRole) {
		t.Fatalf("Release error = %v, want ErrNoRole", err)
	}
	wantError(t, err, "roles", "", "")
	if r.NameID != "" || r.Attributes != nil {
		t.Errorf("Release returned %+v with its error", r)
	}
}

func TestReleaseRefused(t *testing.T) {
	str := func(s string) attributes.Value {
		v, err := attributes.NewString(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		desc   string
		edit   func(*attributes.Subject)
		policy attributes.Policy
		name   string // Error.Name
		reason string
	}{
		{"invalid custom value", func(s *attributes.Subject) { s.Custom["skill.int"] = str("1.23") }, attributes.Policy{}, "skill.int", "not an integer"},
		{"zero Int custom value", func(s *attributes.Subject) { s.Custom["skill.int"] = attributes.Value{Type: attributes.Int} }, attributes.Policy{}, "skill.int", "not an integer"},
		{"negative capacity", func(s *attributes.Subject) { s.Custom["channel.sms.capacity"] = attributes.NewInt(-1) }, attributes.Policy{}, "channel.sms.capacity", "negative"},
		{"reserved custom name", func(s *attributes.Subject) { s.Custom["roles"] = str("admin") }, attributes.Policy{}, "roles", "reserved"},
		{"custom same base", func(s *attributes.Subject) { s.Custom["skills"] = str("x") }, attributes.Policy{}, "skills.intarray", "same attribute"},
		{"empty email", func(s *attributes.Subject) { s.Email = "" }, attributes.Policy{}, "email", "empty"},
		{"bad email", func(s *attributes.Subject) { s.Email = "mary" }, attributes.Policy{}, "email", "local@domain"},
		{"empty full name", func(s *attributes.Subject) { s.FullName = " " }, attributes.Policy{}, "full_name", "empty"},
		{"control char in full name", func(s *attributes.Subject) { s.FullName = "Mary\nSmith" }, attributes.Policy{}, "full_name", "control"},
		{"typo role", func(s *attributes.Subject) { s.Roles = []string{"superviser"} }, attributes.Policy{}, "roles", "not a Flex role"},
		{"duplicate role", func(s *attributes.Subject) { s.Roles = []string{"agent", "agent"} }, attributes.Policy{RolesFormat: attributes.RolesMulti}, "roles", "listed twice"},
		{"bad image URL", func(s *attributes.Subject) { s.ImageURL = "mary.png" }, attributes.Policy{}, "image_url", "http"},
		{"bad team", func(s *attributes.Subject) { s.Team = "a\x00" }, attributes.Policy{}, "team", "control"},
		{"persistent without ID", func(s *attributes.Subject) { s.ID = "" }, attributes.Policy{NameID: attributes.NameIDPersistent}, "", "empty"},
		{"invalid policy", nil, attributes.Policy{RolesFormat: "csv"}, "roles", ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r, err := releaseMary(t, tt.edit, tt.policy)
			if err == nil {
				t.Fatalf("Release succeeded:\n%s", format(r))
			}
			e := wantError(t, err, tt.name, "", "")
			if !strings.Contains(e.Error(), tt.reason) {
				t.Errorf("error %q does not contain %q", e, tt.reason)
			}
			if r.NameID != "" || r.Attributes != nil {
				t.Errorf("Release returned %+v with its error", r)
			}
		})
	}
	t.Run("withheld bad value is not an excuse", func(t *testing.T) {
		// A stored invalid value is a bug to surface, even if this SP would
		// not receive it.
		s := mary(t)
		s.Custom["skill.int"] = str("x")
		if _, err := attributes.Release(s, attributes.Policy{Withhold: []string{"skill"}}); err == nil {
			t.Error("Release accepted an invalid custom value")
		}
	})
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		desc   string
		policy attributes.Policy
		reason string // "" when valid
	}{
		{"zero", attributes.Policy{}, ""},
		{"full", attributes.Policy{
			Release:      []string{"channel.*", "department", "team*", "location"},
			Withhold:     []string{"program"},
			Static:       mustSet(t, "location", "London"),
			RolesFormat:  attributes.RolesSingle,
			NameID:       attributes.NameIDEmail,
			DefaultRoles: []string{"agent", "wfo.team_leader"},
		}, ""},
		{"multi and persistent", attributes.Policy{RolesFormat: "multi", NameID: "persistent"}, ""},
		{"withhold email", attributes.Policy{Withhold: []string{"email"}}, "mandatory"},
		{"withhold roles by wildcard", attributes.Policy{Withhold: []string{"r*"}}, "mandatory"},
		{"withhold everything", attributes.Policy{Withhold: []string{"*"}}, "mandatory"},
		{"malformed release pattern", attributes.Policy{Release: []string{"[a"}}, "malformed"},
		{"malformed withhold pattern", attributes.Policy{Withhold: []string{"a\\"}}, "malformed"},
		{"empty pattern", attributes.Policy{Release: []string{""}}, "malformed"},
		{"bad roles format", attributes.Policy{RolesFormat: "csv"}, "roles_format"},
		{"bad name id", attributes.Policy{NameID: "transient"}, "name_id"},
		{"bad default role", attributes.Policy{DefaultRoles: []string{"superviser"}}, `did you mean "supervisor"`},
		{"invalid static", attributes.Policy{Static: attributes.Set{"skill.int": {Type: attributes.Int}}}, "skill.int"},
		{"static insights attribute", attributes.Policy{Static: mustSet(t, "department", "x")}, ""},
		{"static reserved name", attributes.Policy{Static: attributes.Set{"team": {}}}, "reserved"},
		{"static withheld", attributes.Policy{Static: mustSet(t, "location", "x"), Withhold: []string{"loc*"}}, "does not release"},
		{"static not released", attributes.Policy{Static: mustSet(t, "location", "x"), Release: []string{"team"}}, "does not release"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			err := tt.policy.Validate()
			if tt.reason == "" {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			var e *attributes.Error
			if !errors.As(err, &e) {
				t.Fatalf("Validate error = %v, want *Error", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not contain %q", err, tt.reason)
			}
		})
	}
}

func BenchmarkRelease(b *testing.B) {
	s := mary(b)
	p := attributes.Policy{Withhold: []string{"program"}, Static: mustSet(b, "location", "London")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := attributes.Release(s, p); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReleaseAllocations: a release stays within its allocation budget
// (BenchmarkRelease's user and policy). The typo check on each name's
// last segment (checkSuffix) allocated three rows per type word it
// compared, and the release's last check split every value into items
// it kept only for the roles: 147 allocations then.
func TestReleaseAllocations(t *testing.T) {
	s := mary(t)
	p := attributes.Policy{Withhold: []string{"program"}, Static: mustSet(t, "location", "London")}
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := attributes.Release(s, p); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 60 {
		t.Errorf("Release made %.0f allocations, want at most 60", allocs)
	}
}
