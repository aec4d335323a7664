package importer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// jsonUser is one user in flexidp's JSON and NDJSON formats (see
// WriteNDJSON).
type jsonUser struct {
	ID           string                     `json:"id,omitempty"`
	Email        string                     `json:"email"`
	FullName     string                     `json:"full_name"`
	GivenName    string                     `json:"given_name"`
	FamilyName   string                     `json:"family_name"`
	ImageURL     string                     `json:"image_url"`
	Roles        []string                   `json:"roles"`
	Team         string                     `json:"team"`
	Program      string                     `json:"program"`
	Disabled     bool                       `json:"disabled"`
	Attributes   map[string]json.RawMessage `json:"attributes"`
	PasswordHash string                     `json:"password_hash,omitempty"`
	Groups       []string                   `json:"groups,omitempty"`
}

// auth0User is the part of an Auth0 user export or bulk-import object that
// flexidp reads; other fields are ignored.
type auth0User struct {
	Email       string `json:"email"`
	Name        string `json:"name"`
	GivenName   string `json:"given_name"`
	FamilyName  string `json:"family_name"`
	Picture     string `json:"picture"`
	Blocked     bool   `json:"blocked"`
	AppMetadata struct {
		Flex struct {
			Roles json.RawMessage `json:"roles"`
			Team  string          `json:"team"`
		} `json:"flex"`
		Program string `json:"program"`
	} `json:"app_metadata"`
	PasswordHash       string `json:"password_hash"`
	CustomPasswordHash *struct {
		Algorithm string `json:"algorithm"`
		Hash      struct {
			Value string `json:"value"`
		} `json:"hash"`
	} `json:"custom_password_hash"`
}

// auth0Only are keys of Auth0 user objects that flexidp's shape lacks.
var auth0Only = []string{"user_id", "app_metadata", "user_metadata", "picture", "name", "nickname", "username",
	"custom_password_hash", "email_verified", "blocked", "identities", "created_at", "last_login", "logins_count"}

// detectJSON tells flexidp's JSON or NDJSON from Auth0's by the keys of the
// first object.
func detectJSON(data []byte) (Format, error) {
	var first json.RawMessage
	if data[0] == '[' {
		dec := json.NewDecoder(bytes.NewReader(data))
		if _, err := dec.Token(); err != nil {
			return "", fmt.Errorf("%w: %v", ErrFormat, err)
		}
		if !dec.More() {
			return JSON, nil // an empty array: nothing to tell, nothing to import
		}
		if err := dec.Decode(&first); err != nil {
			return "", fmt.Errorf("%w: the first element of the JSON array is not valid JSON: %v", ErrFormat, err)
		}
	} else {
		line, _, _ := bytes.Cut(data, []byte("\n"))
		first = bytes.TrimSpace(line)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(first, &keys); err != nil {
		return "", fmt.Errorf("%w: the first user is not a JSON object on one line (for JSON lines) or in an array", ErrFormat)
	}
	for _, k := range auth0Only {
		if _, ok := keys[k]; ok {
			return Auth0, nil
		}
	}
	if data[0] == '[' {
		return JSON, nil
	}
	return NDJSON, nil
}

// decoder is the reader of one user object of format f.
func (p *parser) decoder(f Format) func(line int, raw []byte) {
	if f == Auth0 {
		return p.auth0Object
	}
	return p.flexidpObject
}

// jsonLines reads one object per non-blank line of in.
func (p *parser) jsonLines(in *bufio.Reader, f Format) {
	decode := p.decoder(f)
	for n := 1; !p.stopped(); n++ {
		l, err := in.ReadBytes('\n')
		if l = bytes.TrimSpace(l); len(l) > 0 {
			decode(n, l)
		}
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			p.err = fmt.Errorf("read users file: %w", err)
			return
		}
	}
}

// jsonArray calls each for every element of a JSON array, with the line
// the element starts on. A syntax error ends the file: JSON cannot be
// resynchronised.
func (p *parser) jsonArray(data []byte, each func(line int, raw []byte)) {
	lines := newLineIndex(data)
	dec := json.NewDecoder(bytes.NewReader(data))
	syntax := func(err error) {
		off := dec.InputOffset()
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off = se.Offset
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			p.fileProblem(lines.at(len(data)), "", "the JSON ends too early (is the file cut short?); the rows after this point were not read")
			return
		}
		p.fileProblem(lines.at(int(off)), "", "invalid JSON ("+err.Error()+"); the rows after this point were not read")
	}
	tok, err := dec.Token()
	if err != nil {
		syntax(err)
		return
	}
	if tok != json.Delim('[') {
		p.fileProblem(1, "", "want a JSON array of users, or one user object per line")
		return
	}
	for dec.More() && !p.stopped() {
		start := skipSeparators(data, int(dec.InputOffset()))
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			syntax(err)
			return
		}
		each(lines.at(start), raw)
	}
	if _, err := dec.Token(); err != nil {
		syntax(err)
		return
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		p.fileProblem(lines.at(int(dec.InputOffset())), "", "data after the end of the JSON array")
	}
}

func skipSeparators(data []byte, off int) int {
	for off < len(data) {
		switch data[off] {
		case ' ', '\t', '\r', '\n', ',':
			off++
			continue
		}
		break
	}
	return off
}

// lineIndex maps byte offsets to 1-based line numbers.
type lineIndex []int // offsets of '\n'

func newLineIndex(data []byte) lineIndex {
	var nl lineIndex
	for i, b := range data {
		if b == '\n' {
			nl = append(nl, i)
		}
	}
	return nl
}

func (l lineIndex) at(off int) int { return sort.SearchInts(l, off) + 1 }

// decodeJSON decodes one JSON object into v (strict: refusing unknown
// fields); a mistake is a problem of the row. After a type error or an
// unknown field the other fields are still checked (ok is true); after a
// syntax error there is nothing to check.
func (r *row) decodeJSON(raw []byte, v any, strict bool) (ok bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if strict {
		dec.DisallowUnknownFields()
	}
	err := dec.Decode(v)
	if err == nil {
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			r.fail("", "data after the JSON object (one user per line)")
			return false
		}
		return true
	}
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field == "":
		r.fail("", "a user must be a JSON object, not a JSON "+te.Value)
		return false
	case errors.As(err, &te):
		r.fail(te.Field, "is a JSON "+te.Value+", want "+jsonKind(te.Type.Kind().String()))
	case errors.As(err, &se):
		r.fail("", "invalid JSON: "+se.Error())
		return false
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		r.fail("", "invalid JSON: the object ends too early (one whole object per line)")
		return false
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		r.fail(name, "unknown field (the fields are id, email, full_name, given_name, family_name, image_url, roles, team, program, disabled, attributes, password_hash)")
	default:
		r.fail("", "invalid JSON: "+err.Error())
		return false
	}
	return true
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a JSON string"
	case "bool":
		return "true or false"
	case "slice":
		return "a JSON array"
	case "struct", "map":
		return "a JSON object"
	}
	return "another JSON type"
}

// flexidpObject reads one user of flexidp's JSON shape.
func (p *parser) flexidpObject(line int, raw []byte) {
	r := p.newRow(line)
	var j jsonUser
	if !r.decodeJSON(raw, &j, true) {
		return
	}
	r.setID(j.ID)
	r.setEmail("email", j.Email)
	r.setText("full_name", "full_name", &r.u.FullName, j.FullName)
	r.setText("given_name", "full_name", &r.u.GivenName, j.GivenName)
	r.setText("family_name", "full_name", &r.u.FamilyName, j.FamilyName)
	r.setImageURL("image_url", j.ImageURL)
	r.setRoles("roles", j.Roles)
	r.setText("team", "team", &r.u.Team, j.Team)
	r.setText("program", "program", &r.u.Program, j.Program)
	r.u.Disabled = j.Disabled
	names := make([]string, 0, len(j.Attributes))
	for name := range j.Attributes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r.setAttrJSON(name, j.Attributes[name])
	}
	r.checkAttrs()
	r.setHash("password_hash", j.PasswordHash)
	r.setGroups("groups", j.Groups)
}

// auth0Object reads one user of an Auth0 export or bulk-import file.
func (p *parser) auth0Object(line int, raw []byte) {
	r := p.newRow(line)
	var a auth0User
	if !r.decodeJSON(raw, &a, false) {
		return
	}
	r.setEmail("email", a.Email)
	r.setText("name", "full_name", &r.u.FullName, a.Name)
	r.setText("given_name", "full_name", &r.u.GivenName, a.GivenName)
	r.setText("family_name", "full_name", &r.u.FamilyName, a.FamilyName)
	r.setImageURL("picture", a.Picture)
	r.setRolesJSON("app_metadata.flex.roles", a.AppMetadata.Flex.Roles)
	r.setText("app_metadata.flex.team", "team", &r.u.Team, a.AppMetadata.Flex.Team)
	r.setText("app_metadata.program", "program", &r.u.Program, a.AppMetadata.Program)
	r.u.Disabled = a.Blocked
	switch c := a.CustomPasswordHash; {
	case c != nil && a.PasswordHash != "":
		r.fail("custom_password_hash", "give password_hash or custom_password_hash, not both")
	case c != nil:
		switch alg := strings.ToLower(c.Algorithm); alg {
		case "bcrypt", "argon2":
			if alg == "bcrypt" && !strings.HasPrefix(c.Hash.Value, "$2") || alg == "argon2" && !strings.HasPrefix(c.Hash.Value, "$argon2") {
				r.fail("custom_password_hash.hash.value", "is not a "+alg+" hash")
				break
			}
			r.setHash("custom_password_hash.hash.value", c.Hash.Value)
		default:
			r.fail("custom_password_hash.algorithm", fmt.Sprintf("%s hashes are not supported: flexidp verifies bcrypt and argon2 (argon2id, argon2i); leave the hash out and the user sets a new password", shorten(c.Algorithm)))
		}
	default:
		r.setHash("password_hash", a.PasswordHash)
	}
}
