package attributes_test

import (
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/attributes"
)

func TestCatalog(t *testing.T) {
	groups := map[string][]string{}
	for _, e := range attributes.Catalog() {
		if e.Description == "" {
			t.Errorf("%s has no description", e.Name)
		}
		groups[e.Group] = append(groups[e.Group], e.Name)
	}
	want := map[string]string{
		attributes.GroupMandatory: "email full_name roles",
		attributes.GroupAgent:     "image_url",
		attributes.GroupTeams:     "team program",
		attributes.GroupRouting:   "contact_uri",
		attributes.GroupInsights:  "department location manager phone team_id team_name team_name_in_hierarchy",
		attributes.GroupCapacity:  "channel.<taskchannel>.capacity channel.<taskchannel>.availability",
	}
	for g, names := range want {
		if got := strings.Join(groups[g], " "); got != names {
			t.Errorf("group %s = %q, want %q", g, got, names)
		}
	}
	if len(groups) != len(want) {
		t.Errorf("groups = %v", groups)
	}
	// Catalog returns a copy.
	attributes.Catalog()[0].Name = "changed"
	if attributes.Catalog()[0].Name != "email" {
		t.Error("Catalog() exposes its backing array")
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name  string
		entry string
		typ   attributes.Type
		found bool
	}{
		{"email", "email", attributes.String, true},
		{"roles", "roles", attributes.StringArray, true},
		{"team_name_in_hierarchy", "team_name_in_hierarchy", attributes.String, true},
		{"channel.chat.capacity", "channel.<taskchannel>.capacity", attributes.Int, true},
		{"channel.sms_2-x.capacity", "channel.<taskchannel>.capacity", attributes.Int, true},
		{"channel.chat.capacity.int", "channel.<taskchannel>.capacity", attributes.Int, true},
		{"channel.voice.availability", "channel.<taskchannel>.availability", attributes.Boolean, true},
		{"department.string", "department", attributes.String, true},
		{"channel.Chat.capacity", "", 0, false},
		{"channel..capacity", "", 0, false},
		{"channel.capacity", "", 0, false},
		{"channel.chat.capacity.max", "", 0, false},
		{"skills.intarray", "", 0, false},
		{"Email", "", 0, false},
		{"", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ok := attributes.Lookup(tt.name)
			if ok != tt.found || e.Name != tt.entry || (ok && e.Type != tt.typ) {
				t.Errorf("Lookup(%q) = %+v, %v; want %q (%v), %v", tt.name, e, ok, tt.entry, tt.typ, tt.found)
			}
		})
	}
}

func TestContactURI(t *testing.T) {
	tests := []struct {
		raw   string
		valid bool
	}{
		{"client:alice", true},
		{"client:alice_40example_2Ecom", true},
		{"sip:someone@somedomain.com", true},
		{"sip:agent.1@sip.example.com:5061", true},
		{"sip:alice@10.0.0.1;transport=tls", true},
		{"sip:+14151112222@trunk.example.com", true},
		{"+14151112222", true},
		{"+12345678", true},
		{"+123456789012345", true},

		{"", false},
		{"client:", false},
		{"client:alice@example.com", false},
		{"client:a b", false},
		{"sip:", false},
		{"sip:someone", false},
		{"sip:@host", false},
		{"sip:user@", false},
		{"sip:a b@host", false},
		{"sip:user@host:0", false},
		{"sip:user@host:99999", false},
		{"sip:user@-host.com", false},
		{"sip:user@host..com", false},
		{"sip:user@ho_st.com", false},
		{"SIP:user@host", false},
		{"+1234567", false},
		{"+1234567890123456", false},
		{"+04151112222", false},
		{"+1 415 111 2222", false},
		{"14151112222", false},
		{"tel:+14151112222", false},
		{"https://example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			v, err := attributes.Parse("contact_uri", tt.raw)
			if tt.valid {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if v.String() != tt.raw {
					t.Errorf("String() = %q", v)
				}
				return
			}
			e := wantError(t, err, "contact_uri", "", tt.raw)
			if !strings.Contains(e.Want, "client:") {
				t.Errorf("Want = %q, want the contact URI rule", e.Want)
			}
		})
	}
}

func TestCapacityFamily(t *testing.T) {
	for _, ch := range []string{"voice", "chat", "sms", "video", "custom_1", "my-channel"} {
		t.Run(ch, func(t *testing.T) {
			c := mustParse(t, "channel."+ch+".capacity", "3")
			if n, ok := c.Int(); !ok || n != 3 || c.String() != "3" {
				t.Errorf("capacity = %#v", c)
			}
			a := mustParse(t, "channel."+ch+".availability", "false")
			if b, ok := a.Bool(); !ok || b {
				t.Errorf("availability = %#v", a)
			}
			if _, err := attributes.Parse("channel."+ch+".capacity", "-2"); err == nil {
				t.Error("negative capacity accepted")
			}
			if _, err := attributes.Parse("channel."+ch+".availability", "3"); err == nil {
				t.Error("availability 3 accepted")
			}
		})
	}
}
