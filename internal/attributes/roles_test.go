package attributes_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/attributes"
)

func TestValidateRoles(t *testing.T) {
	tests := []struct {
		desc       string
		roles      []string
		bad        string // the role named in the error; "" when valid
		reason     string
		suggestion string
	}{
		{"none", nil, "", "", ""},
		{"empty list", []string{}, "", "", ""},
		{"agent", []string{"agent"}, "", "", ""},
		{"all three", []string{"admin", "supervisor", "agent"}, "", "", ""},
		{"known insights", []string{"agent", "wfo.full_access", "wfo.team_leader", "wfo.data_analyst", "wfo.data_auditor", "wfo.quality_manager", "wfo.quality_process_manager", "wfo.dashboard_viewer", "wfo.llm_user"}, "", "", ""},
		{"future insights role", []string{"wfo.something_new"}, "", "", ""},

		{"typo supervisor", []string{"agent", "superviser"}, "superviser", "not a Flex role", "supervisor"},
		{"typo admin", []string{"admn"}, "admn", "not a Flex role", "admin"},
		{"transposition", []string{"agnet"}, "agnet", "not a Flex role", "agent"},
		{"case", []string{"Agent"}, "Agent", "not a Flex role", "agent"},
		{"spaces", []string{" agent"}, " agent", "not a Flex role", "agent"},
		{"insights case", []string{"wfo.Team_Leader"}, "wfo.Team_Leader", "not a Flex role", "wfo.team_leader"},
		{"insights typo", []string{"wfo.team-leader"}, "wfo.team-leader", "not a Flex role", "wfo.team_leader"},
		{"far away", []string{"manager"}, "manager", "not a Flex role (admin, supervisor, agent or wfo.<name>)", ""},
		{"bare wfo", []string{"wfo."}, "wfo.", "not a Flex role", ""},
		{"empty role", []string{"agent", ""}, "", "empty", ""},
		{"comma", []string{"supervisor,agent"}, "supervisor,agent", "commas", ""},
		{"duplicate", []string{"agent", "admin", "agent"}, "agent", "listed twice", ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			err := attributes.ValidateRoles(tt.roles)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("ValidateRoles(%q): %v", tt.roles, err)
				}
				return
			}
			e := wantError(t, err, "roles", "", "")
			if e.Value != tt.bad {
				t.Errorf("Error.Value = %q, want %q", e.Value, tt.bad)
			}
			if !strings.Contains(e.Reason, tt.reason) {
				t.Errorf("Error.Reason = %q, want %q", e.Reason, tt.reason)
			}
			if e.Suggestion != tt.suggestion {
				t.Errorf("Error.Suggestion = %q, want %q", e.Suggestion, tt.suggestion)
			}
		})
	}
}

func TestValidateRolesMessage(t *testing.T) {
	err := attributes.ValidateRoles([]string{"superviser"})
	want := `role "superviser" is not a Flex role; did you mean "supervisor"?`
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("error = %v, want it to end with %s", err, want)
	}
}

func TestParseRoles(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		fail bool
	}{
		{"supervisor, agent", []string{"supervisor", "agent"}, false},
		{"agent", []string{"agent"}, false},
		{" wfo.team_leader ,agent ", []string{"wfo.team_leader", "agent"}, false},
		{"", nil, false},
		{"  ", nil, false},
		{"agent,", nil, true},
		{"agent,,admin", nil, true},
		{"agent, agent", nil, true},
		{"superviser", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := attributes.ParseRoles(tt.in)
			if tt.fail {
				if err == nil {
					t.Errorf("ParseRoles(%q) = %q, want an error", tt.in, got)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("ParseRoles(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestSuggestRole(t *testing.T) {
	tests := []struct{ in, want string }{
		{"superviser", "supervisor"},
		{"wfo.team_leadr", "wfo.team_leader"},
		{"wfo.llm_usr", "wfo.llm_user"},
		{"supervisor", ""},
		{"wfo.other", ""},
		{"xyz", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := attributes.SuggestRole(tt.in)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("SuggestRole(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
			}
		})
	}
	if !attributes.IsKnownRole("wfo.llm_user") || attributes.IsKnownRole("wfo.other") {
		t.Error("IsKnownRole is wrong")
	}
	known := attributes.KnownRoles()
	known[0] = "changed"
	if attributes.KnownRoles()[0] != "admin" {
		t.Error("KnownRoles exposes its backing array")
	}
}
