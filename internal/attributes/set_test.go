package attributes_test

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/attributes"
)

// mustSet builds a Set from name=raw pairs parsed with Parse.
func mustSet(t testing.TB, pairs ...string) attributes.Set {
	t.Helper()
	s := attributes.Set{}
	for i := 0; i < len(pairs); i += 2 {
		s[pairs[i]] = mustParse(t, pairs[i], pairs[i+1])
	}
	return s
}

func TestSetJSONRoundTrip(t *testing.T) {
	s := mustSet(t,
		"skills.intarray", "1,2,3",
		"sales.boolean", "true",
		"department", "Sales",
		"skill.int", "-4",
		"languages.stringarray", "en,de,fr",
		"tags.array", "",
		"flags.booleanarray", "true,false",
		"channel.chat.capacity", "3",
		"channel.voice.availability", "false",
		"contact_uri", "+14151112222",
		"team_name_in_hierarchy", "London,Sales,VIP",
		"quote", `say "hi" <b>&`,
	)
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"channel.chat.capacity":3,"channel.voice.availability":false,"contact_uri":"+14151112222",` +
		`"department":"Sales","flags.booleanarray":[true,false],"languages.stringarray":["en","de","fr"],` +
		`"quote":"say \"hi\" \u003cb\u003e\u0026","sales.boolean":true,"skill.int":-4,"skills.intarray":[1,2,3],` +
		`"tags.array":[],"team_name_in_hierarchy":"London,Sales,VIP"}`
	if string(data) != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", data, want)
	}
	var back attributes.Set
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(back, s) {
		t.Errorf("round trip = %v, want %v", back, s)
	}
	if got := back.Names(); !slices.IsSorted(got) || len(got) != len(s) {
		t.Errorf("Names() = %q", got)
	}
}

func TestSetJSONEmpty(t *testing.T) {
	for _, s := range []attributes.Set{nil, {}} {
		data, err := json.Marshal(s)
		if err != nil || string(data) != "{}" {
			t.Errorf("Marshal(%#v) = %s, %v; want {}", s, data, err)
		}
	}
	var s attributes.Set
	if err := json.Unmarshal([]byte(`{}`), &s); err != nil || s == nil || len(s) != 0 {
		t.Errorf("Unmarshal({}) = %#v, %v", s, err)
	}
	s = attributes.Set{"x": {}}
	if err := json.Unmarshal([]byte(`null`), &s); err != nil || s != nil {
		t.Errorf("Unmarshal(null) = %#v, %v", s, err)
	}
	// A struct field with omitempty leaves an empty Set out.
	data, _ := json.Marshal(attributes.Policy{})
	if string(data) != "{}" {
		t.Errorf("Marshal(Policy{}) = %s", data)
	}
}

func TestSetUnmarshalRefused(t *testing.T) {
	tests := []struct {
		desc, json, name, reason string
	}{
		{"string for int", `{"skill.int":"a"}`, "skill.int", "want a JSON number"},
		{"quoted int", `{"skill.int":"1"}`, "skill.int", "want a JSON number"},
		{"float", `{"skill.int":1.23}`, "skill.int", "not an integer"},
		{"exponent", `{"skill.int":1e3}`, "skill.int", "not an integer"},
		{"overflow", `{"skill.int":9223372036854775808}`, "skill.int", "range"},
		{"string for boolean", `{"sales.boolean":"true"}`, "sales.boolean", "want true or false"},
		{"number for string", `{"department":3}`, "department", "want a JSON string"},
		{"null", `{"department":null}`, "department", "JSON null"},
		{"scalar for array", `{"skills.intarray":1}`, "skills.intarray", "want a JSON array"},
		{"mixed array", `{"skills.intarray":[1,"2"]}`, "skills.intarray", "item 2"},
		{"comma in item", `{"languages.stringarray":["en,de"]}`, "languages.stringarray", "comma"},
		{"empty item", `{"languages.stringarray":["en",""]}`, "languages.stringarray", "empty item"},
		{"negative capacity", `{"channel.chat.capacity":-1}`, "channel.chat.capacity", "negative"},
		{"capacity as string", `{"channel.chat.capacity":"3"}`, "channel.chat.capacity", "want a JSON number"},
		{"control char", `{"department":"a\u0000b"}`, "department", "control"},
		{"bad name", `{"a..b":"x"}`, "a..b", "invalid attribute name"},
		{"reserved email", `{"email":"a@b.c"}`, "email", "reserved"},
		{"reserved roles", `{"roles":["agent"]}`, "roles", "reserved"},
		{"reserved with suffix", `{"team.string":"x"}`, "team.string", "reserved"},
		{"same base", `{"skills":"x","skills.intarray":[1]}`, "skills.intarray", "same attribute"},
		{"bad contact", `{"contact_uri":"bob"}`, "contact_uri", "neither"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var s attributes.Set
			err := json.Unmarshal([]byte(tt.json), &s)
			e := wantError(t, err, tt.name, "", "")
			if !strings.Contains(e.Error(), tt.reason) {
				t.Errorf("error %q does not contain %q", e, tt.reason)
			}
			if s != nil {
				t.Errorf("Set = %v after a failed Unmarshal", s)
			}
		})
	}
	var s attributes.Set
	if err := json.Unmarshal([]byte(`["a"]`), &s); err == nil {
		t.Error("a JSON array was accepted as a Set")
	}
}

func TestSetValidate(t *testing.T) {
	str, _ := attributes.NewString("x")
	tests := []struct {
		desc string
		set  attributes.Set
		bad  string
	}{
		{"nil", nil, ""},
		{"good", mustSet(t, "department", "Sales", "skill.int", "2", "contact_uri", "client:bob"), ""},
		{"wrong type", attributes.Set{"skill.int": str}, "skill.int"},
		{"zero Int", attributes.Set{"skill.int": {Type: attributes.Int}}, "skill.int"},
		{"reserved", attributes.Set{"full_name": str}, "full_name"},
		{"reserved image_url", attributes.Set{"image_url": str}, "image_url"},
		{"reserved program", attributes.Set{"program": str}, "program"},
		{"bad name", attributes.Set{"1x": str}, "1x"},
		{"same base", attributes.Set{"a": str, "a.string": str}, "a.string"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			err := tt.set.Validate()
			if tt.bad == "" {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			wantError(t, err, tt.bad, "", "")
			if _, err := json.Marshal(tt.set); err == nil {
				t.Error("Marshal accepted an invalid Set")
			}
		})
	}
}

func TestValueJSON(t *testing.T) {
	tests := []struct {
		json string
		typ  attributes.Type
		wire string
	}{
		{`"Mary"`, attributes.String, "Mary"},
		{`3`, attributes.Int, "3"},
		{`true`, attributes.Boolean, "true"},
		{`["en","de"]`, attributes.StringArray, "en,de"},
		{`[1,2]`, attributes.IntArray, "1,2"},
		{`[false]`, attributes.BooleanArray, "false"},
		{`[]`, attributes.Array, ""},
	}
	for _, tt := range tests {
		t.Run(tt.json, func(t *testing.T) {
			var v attributes.Value
			if err := json.Unmarshal([]byte(tt.json), &v); err != nil {
				t.Fatal(err)
			}
			if v.Type != tt.typ || v.String() != tt.wire {
				t.Errorf("Unmarshal = %v %q, want %v %q", v.Type, v, tt.typ, tt.wire)
			}
			data, err := json.Marshal(v)
			if err != nil || string(data) != tt.json {
				t.Errorf("Marshal = %s, %v; want %s", data, err, tt.json)
			}
		})
	}
	for _, bad := range []string{`null`, `{}`, `1.5`, `[1,"a"]`, `[[1]]`, `"a\u0001"`, `["a,b"]`, `1 2`} {
		t.Run("refuse "+bad, func(t *testing.T) {
			var v attributes.Value
			err := json.Unmarshal([]byte(bad), &v)
			var e *attributes.Error
			if bad == `1 2` {
				// encoding/json rejects trailing data before calling us.
				if err == nil {
					t.Error("accepted")
				}
				return
			}
			if !errors.As(err, &e) {
				t.Errorf("Unmarshal(%s) error = %v, want *Error", bad, err)
			}
		})
	}
	if _, err := json.Marshal(attributes.Value{Type: attributes.Int}); err == nil {
		t.Error("Marshal of the invalid zero Int succeeded")
	}
	if _, err := attributes.ParseJSON("skill.int", []byte(`1 2`)); err == nil {
		t.Error("ParseJSON accepted trailing data")
	}
}
