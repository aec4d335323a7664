package importer

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/users"
)

const (
	bcryptHash = "$2a$04$WNiHneEExi/vECBkIAM8B.D/2THfMRyW0lEz4kny7KndHNbq1VjTa"
	argonHash  = "$argon2id$v=19$m=1024,t=1,p=1$nppFtIXPNWrlpc9fP49rPg$assBIHJ8ekIVeVbBGjs4KUsCOsp7HTabZWivD+O4FTc"
)

func parseFile(t *testing.T, name string, f Format) *Result {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Parse(bytes.NewReader(data), f)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return res
}

func attrs(t *testing.T, pairs ...string) attributes.Set { return attrsB(t, pairs...) }

func attrsB(t testing.TB, pairs ...string) attributes.Set {
	t.Helper()
	s, err := attributes.SetOf(pairs...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSampleFiles reads every sample file with its format detected and
// checks the users read and every problem reported.
func TestSampleFiles(t *testing.T) {
	cases := []struct {
		file     string
		format   Format
		rows     int
		valid    map[int]users.User // by line
		problems []string
	}{
		{
			file: "flexidp.csv", format: CSV, rows: 6,
			valid: map[int]users.User{3: {Email: "alex@example.com", GivenName: "Alex", FamilyName: "Agent",
				Roles: []string{"agent"}, Team: "Blue", Program: "Sales", Attributes: attrs(t, "channel.chat.capacity", "2")}},
			problems: []string{
				`line 2: email: "mary@example.com" is also on line 6 (emails are unique, whatever their case)`,
				`line 4: roles: role "superviser" is not a Flex role; did you mean "supervisor"?`,
				`line 4: skills.intarray: want intarray, got "1,x" (item 2: not an integer)`,
				`line 4: channel.chat.capacity: want int >= 0, got "-1" (negative)`,
				`line 5: email: "not-an-email" is not a valid email address`,
				`line 6: email: "MARY@example.com" is also on line 2 (emails are unique, whatever their case)`,
				`line 7: image_url: "ftp://example.com/n.png" is not an http(s) URL`,
				`line 7: password_hash: unsupported password hash: flexidp verifies argon2id, argon2i and bcrypt ($2a$, $2b$, $2y$); leave it empty and the user sets a new password`,
			},
		},
		{
			file: "bom-crlf.csv", format: CSV, rows: 2,
			valid: map[int]users.User{
				2: {Email: "kim@example.com", FullName: "Kim Kowalski", Roles: []string{"agent"}, Team: "Blue",
					Attributes: attrs(t, "languages.stringarray", "en,de")},
				3: {Email: "lee@example.com", FullName: "Lee Li", Roles: []string{"supervisor", "agent"}, Team: "Blue",
					Attributes: attrs(t, "languages.stringarray", "fr")},
			},
		},
		{
			file: "flexidp.ndjson", format: NDJSON, rows: 4,
			valid: map[int]users.User{1: {ID: "8c1f0a4e-0000-4000-8000-000000000001", Email: "mary@example.com",
				FullName: "Mary Major", GivenName: "Mary", FamilyName: "Major", ImageURL: "https://example.com/mary.png",
				Roles: []string{"supervisor", "agent"}, Team: "Blue", Program: "Sales", PasswordHash: argonHash,
				Attributes: attrs(t, "channel.chat.capacity", "3", "sales.boolean", "true", "skills.intarray", "1,2,3")}},
			problems: []string{
				`line 3: role: unknown field (the fields are id, email, full_name, given_name, family_name, image_url, roles, team, program, disabled, attributes, password_hash)`,
				`line 4: roles: is a JSON string, want a JSON array`,
				`line 4: skill.int: want int, got "\"3\"" (JSON string, want a JSON number)`,
				`line 5: invalid JSON: the object ends too early (one whole object per line)`,
			},
		},
		{
			file: "flexidp.json", format: JSON, rows: 3,
			valid: map[int]users.User{2: {Email: "mary@example.com", FullName: "Mary Major",
				Roles: []string{"supervisor", "agent"}, Attributes: attrs(t, "skills.intarray", "1,2,3")}},
			problems: []string{
				`line 8: roles: role "agnet" is not a Flex role; did you mean "agent"?`,
				`line 12: skills.intarray: same attribute as "skills" for Flex, which ignores the type suffix when naming it`,
			},
		},
		{
			file: "auth0-export.ndjson", format: Auth0, rows: 4,
			valid: map[int]users.User{
				1: {Email: "mary@example.com", FullName: "Mary Major", GivenName: "Mary", FamilyName: "Major",
					ImageURL: "https://s.gravatar.com/avatar/abc?s=480&r=pg", Roles: []string{"supervisor", "agent"},
					Team: "RAMP", Program: "RAMP"},
				2: {Email: "alex@example.com", FullName: "Alex Agent", Roles: []string{"agent"}, Disabled: true},
			},
			problems: []string{
				`line 3: app_metadata.flex.team: is a JSON number, want a JSON string`,
				`line 3: app_metadata.flex.roles: role "superviser" is not a Flex role; did you mean "supervisor"?`,
				`line 4: email: is required`,
			},
		},
		{
			file: "auth0-bulk.json", format: Auth0, rows: 5,
			valid: map[int]users.User{
				2: {Email: "mary@example.com", FullName: "Mary Major", Roles: []string{"supervisor"}, Team: "RAMP",
					Program: "RAMP", PasswordHash: bcryptHash},
				8:  {Email: "alex@example.com", GivenName: "Alex", FamilyName: "Agent", Roles: []string{"agent"}, PasswordHash: argonHash},
				15: {Email: "kim@example.com", Roles: []string{"agent"}, PasswordHash: bcryptHash},
			},
			problems: []string{
				`line 20: custom_password_hash.algorithm: "md5" hashes are not supported: flexidp verifies bcrypt and argon2 (argon2id, argon2i); leave the hash out and the user sets a new password`,
				`line 25: password_hash: password hash too costly to verify: bcrypt cost 31 is outside 4 to 12; leave it empty and the user sets a new password`,
			},
		},
		{
			file: "okta.csv", format: Okta, rows: 3,
			valid: map[int]users.User{
				2: {Email: "mary@example.com", FullName: "Mary Major", GivenName: "Mary", FamilyName: "Major",
					Roles: []string{"supervisor", "agent"}},
				3: {Email: "alex@example.com", GivenName: "Alex", FamilyName: "Agent", Roles: []string{"agent"}, Disabled: true},
			},
			problems: []string{`line 4: userType: role "Employee" is not a Flex role (admin, supervisor, agent or wfo.<name>)`},
		},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			res := parseFile(t, c.file, "")
			if res.Format != c.format || res.Rows != c.rows {
				t.Fatalf("format %s, %d rows; want %s, %d", res.Format, res.Rows, c.format, c.rows)
			}
			got := map[int]users.User{}
			for _, r := range res.Records {
				got[r.Line] = r.User
			}
			if !reflect.DeepEqual(got, c.valid) {
				t.Errorf("valid users:\n got %+v\nwant %+v", got, c.valid)
			}
			var problems []string
			for _, p := range res.Problems {
				problems = append(problems, p.String())
			}
			if strings.Join(problems, "\n") != strings.Join(c.problems, "\n") {
				t.Errorf("problems:\n got:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(c.problems, "\n"))
			}
			if res.BadRows() != c.rows-len(c.valid) {
				t.Errorf("BadRows = %d", res.BadRows())
			}
		})
	}
}

func TestDetect(t *testing.T) {
	cases := []struct {
		in   string
		want Format
		err  bool
	}{
		{"email,roles\na@example.com,agent\n", CSV, false},
		{"\xEF\xBB\xBFEmail,Roles\r\n", CSV, false},
		{"login,email,firstName,lastName,userType\n", Okta, false},
		{"  [ {\"email\":\"a@example.com\",\"roles\":[]} ]", JSON, false},
		{"[]", JSON, false},
		{"[{\"email\":\"a@example.com\",\"user_id\":\"auth0|1\"}]", Auth0, false},
		{"{\"email\":\"a@example.com\",\"roles\":[\"agent\"]}\n", NDJSON, false},
		{"{\"email\":\"a@example.com\",\"app_metadata\":{}}\n", Auth0, false},
		{"", "", true},
		{" \r\n ", "", true},
		{"name,phone\nx,y\n", "", true},
		{"[1,", "", true},
		{"{\n\"email\": 1}", "", true},
	}
	for _, c := range cases {
		got, err := Detect([]byte(c.in))
		if c.err {
			if !errors.Is(err, ErrFormat) {
				t.Errorf("Detect(%q) = %q, %v; want ErrFormat", c.in, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Detect(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// TestProblems covers problems the sample files do not show, one input
// each, with the format given.
func TestProblems(t *testing.T) {
	cases := []struct {
		name, in string
		format   Format
		want     []string
	}{
		{"unknown column", "email,role s\n", CSV, []string{`line 1: role s: not a user field (email, full_name, given_name, family_name, image_url, roles, team, program, disabled, id, password_hash, groups) nor a Flex attribute name: invalid attribute name: ...`}},
		{"no email column", "roles\nagent\n", CSV, []string{"line 1: the header has no email column"}},
		{"column twice", "email,team,Team\n", CSV, []string{"line 1: Team: the column appears twice"}},
		{"empty file", "", CSV, []string{"line 1: the file is empty: a header row is required"}},
		{"field count", "email,roles\na@example.com\nb@example.com,agent\n", CSV,
			[]string{"line 2: wrong number of fields: every row needs one per header column"}},
		{"bare quote", "email,full_name\na@example.com,Mary \"M\" Major\n", CSV,
			[]string{`line 2: CSV syntax: bare " in non-quoted-field`}},
		{"field as attribute", "email,email.string,disabled.boolean\n", CSV, []string{
			"line 1: email.string: a custom attribute cannot have the name of the email column; give the value there",
			"line 1: disabled.boolean: a custom attribute cannot have the name of the disabled column; give the value there"}},
		{"disabled", "email,disabled\na@example.com,maybe\n", CSV, []string{`line 2: disabled: "maybe" is not true or false`}},
		{"role list", "email,roles\na@example.com,\"agent,agent\"\n", CSV, []string{`line 2: roles: role "agent" is listed twice`}},
		{"bad id", `{"id":"a b","email":"a@example.com"}`, NDJSON, []string{"line 1: id: contains a space or a control character"}},
		{"not an object", "[1]", JSON, []string{"line 1: a user must be a JSON object, not a JSON number"}},
		{"cut array", "[\n{\"email\":\"a@example.com\"},\n{\"email\":", JSON,
			[]string{"line 3: the JSON ends too early (is the file cut short?); the rows after this point were not read"}},
		{"trailing data", "[]\n[]", JSON, []string{"line 2: data after the end of the JSON array"}},
		{"object not array", `{"email":"a@example.com"}`, JSON, []string{"line 1: want a JSON array of users, or one user object per line"}},
		{"two lines per object", "{\"email\":\n\"a@example.com\"}\n", NDJSON, []string{
			"line 1: invalid JSON: the object ends too early (one whole object per line)",
			"line 2: a user must be a JSON object, not a JSON string"}},
		{"auth0 both hashes", `{"email":"a@example.com","password_hash":"` + bcryptHash + `","custom_password_hash":{"algorithm":"bcrypt","hash":{"value":"` + bcryptHash + `"}}}`, Auth0,
			[]string{"line 1: custom_password_hash: give password_hash or custom_password_hash, not both"}},
		{"auth0 wrong algorithm", `{"email":"a@example.com","custom_password_hash":{"algorithm":"argon2","hash":{"value":"` + bcryptHash + `"}}}`, Auth0,
			[]string{"line 1: custom_password_hash.hash.value: is not a argon2 hash"}},
		{"auth0 roles object", `{"email":"a@example.com","app_metadata":{"flex":{"roles":{"a":1}}}}`, Auth0,
			[]string{`line 1: app_metadata.flex.roles: want a JSON array of role names, got "{\"a\":1}"`}},
		{"argon2 memory beyond the limit", "email,password_hash\na@example.com,\"$argon2id$v=19$m=1048576,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo\"\n", CSV,
			[]string{"line 2: password_hash: password hash too costly to verify: argon2 memory m=1048576 KiB is above 65536 KiB (64 MiB); leave it empty and the user sets a new password"}},
		{"argon2 passes beyond the limit", `{"email":"a@example.com","custom_password_hash":{"algorithm":"argon2","hash":{"value":"$argon2id$v=19$m=1024,t=64,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo"}}}`, Auth0,
			[]string{"line 1: custom_password_hash.hash.value: password hash too costly to verify: argon2 passes t=64 is above 10; leave it empty and the user sets a new password"}},
		{"bcrypt cost beyond the limit", "email,password_hash\na@example.com,$2b$13$WNiHneEExi/vECBkIAM8B.D/2THfMRyW0lEz4kny7KndHNbq1VjTa\n", CSV,
			[]string{"line 2: password_hash: password hash too costly to verify: bcrypt cost 13 is outside 4 to 12; leave it empty and the user sets a new password"}},
		{"invisible character in an email", "email\nagent\u200b@example.com\n", CSV,
			[]string{`line 2: email: "agent\u200b@example.com" contains an invisible character (U+200B); type the address again`}},
		{"Cyrillic letter in an email", "email\n\u0430gent@example.com\n", CSV,
			[]string{`line 2: email: "\u0430gent@example.com" mixes letters of different scripts (Cyrillic and Latin) in the part before the @, which makes look-alike addresses; type the address again`}},
		{"one email composed and decomposed", "email\nzo\u00eb@example.com\nzoe\u0308@example.com\n", CSV, []string{
			`line 2: email: "zoë@example.com" is also on line 3 (emails are unique, whatever their case)`,
			`line 3: email: "zoë@example.com" is also on line 2 (emails are unique, whatever their case)`}},
		{"okta no email", "login,firstName\nnot-an-email,Mary\n", Okta, []string{`line 2: login: "not-an-email" is not a valid email address`}},
		{"control character", "email,full_name\na@example.com,\"Mary\x01\"\n", CSV,
			[]string{`line 2: full_name: want non-empty string, got "Mary\x01" (contains a control character)`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := Parse(strings.NewReader(c.in), c.format)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range res.Problems {
				got = append(got, p.String())
			}
			if len(got) != len(c.want) {
				t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			for i := range got {
				w := c.want[i]
				if p, ok := strings.CutSuffix(w, "..."); ok && strings.HasPrefix(got[i], p) {
					continue
				}
				if got[i] != w {
					t.Errorf("problem %d:\n got %s\nwant %s", i, got[i], w)
				}
			}
		})
	}
}

func TestParseFormat(t *testing.T) {
	for _, s := range []string{"", "csv", "JSON", " ndjson ", "auth0", "okta"} {
		if _, err := ParseFormat(s); err != nil {
			t.Errorf("ParseFormat(%q): %v", s, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil {
		t.Error("ParseFormat(xml) succeeded")
	}
}

// exportUsers exercise every field, the nil/empty cases and characters CSV
// and JSON must quote.
func exportUsers(t *testing.T) []users.User {
	return []users.User{
		{ID: "u1", Email: "Mary.Major@Example.com", FullName: `Mary "Q", Major`, GivenName: "Mary", FamilyName: "Major",
			ImageURL: "https://example.com/m.png?a=1&b=2", Roles: []string{"supervisor", "agent", "wfo.team_leader"},
			Team: "Blue <1>", Program: "Sales", PasswordHash: bcryptHash, Disabled: true,
			Attributes: attrs(t, "skills.intarray", "1,2,3", "channel.chat.capacity", "3", "department", "Sales, EMEA",
				"sales.boolean", "true", "languages.stringarray", "en,de")},
		{ID: "u2", Email: "bare@example.com"},
		{ID: "u3", Email: "zoë@example.com", FullName: "Zoë Ünal", Roles: []string{"agent"}, PasswordHash: argonHash,
			Attributes: attrs(t, "department", "Support")},
	}
}

// TestWriteParseRoundTrip: what Write* writes, Parse reads back to the same
// users, hashes included or left out.
func TestWriteParseRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name  string
		write func(*bytes.Buffer, []users.User, bool) error
		want  Format
	}{
		{"ndjson", func(b *bytes.Buffer, us []users.User, h bool) error { return WriteNDJSON(b, us, h) }, NDJSON},
		{"csv", func(b *bytes.Buffer, us []users.User, h bool) error { return WriteCSV(b, us, h) }, CSV},
	} {
		for _, hashes := range []bool{true, false} {
			t.Run(c.name, func(t *testing.T) {
				in := exportUsers(t)
				var buf bytes.Buffer
				if err := c.write(&buf, in, hashes); err != nil {
					t.Fatal(err)
				}
				res, err := Parse(bytes.NewReader(buf.Bytes()), "")
				if err != nil {
					t.Fatal(err)
				}
				if res.Format != c.want || len(res.Problems) > 0 {
					t.Fatalf("format %s, problems %v\n%s", res.Format, res.Problems, buf.String())
				}
				for i := range in {
					if !hashes {
						in[i].PasswordHash = ""
					}
				}
				if got := res.Users(); !reflect.DeepEqual(got, in) {
					t.Fatalf("round trip:\n got %+v\nwant %+v\nfile:\n%s", got, in, buf.String())
				}
				if !hashes && strings.Contains(buf.String(), "$2a$") {
					t.Fatal("a hash was written without withHashes")
				}
			})
		}
	}
}

func TestWriteCSVRefusesLoss(t *testing.T) {
	empty, err := attributes.NewStringArray(attributes.StringArray)
	if err != nil {
		t.Fatal(err)
	}
	id, err := attributes.Parse("id", "x")
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]attributes.Value{"languages.stringarray": empty, "id": id} {
		u := users.User{ID: "u", Email: "a@example.com", Attributes: attributes.Set{name: v}}
		if err := WriteCSV(new(bytes.Buffer), []users.User{u}, false); err == nil || !strings.Contains(err.Error(), "NDJSON") {
			t.Errorf("WriteCSV of attribute %s: %v, want a refusal pointing to NDJSON", name, err)
		}
	}
}
