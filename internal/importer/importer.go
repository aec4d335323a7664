package importer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/users"
)

// Format is a kind of user file.
type Format string

// The formats Parse reads.
const (
	// CSV is flexidp's CSV: a header row naming the columns email,
	// full_name, given_name, family_name, image_url, roles (comma-separated),
	// team, program, and optionally disabled, id and password_hash; any
	// other column is a Flex attribute (skills.intarray,
	// channel.chat.capacity, department, ...). An empty attribute cell
	// means the user does not have that attribute.
	CSV Format = "csv"
	// JSON is a JSON array of objects of flexidp's export shape (see
	// WriteNDJSON).
	JSON Format = "json"
	// NDJSON is one object of flexidp's export shape per line.
	NDJSON Format = "ndjson"
	// Auth0 is an Auth0 user export or bulk-import file, a JSON array or
	// one object per line: email, name, given_name, family_name, picture,
	// blocked, app_metadata.flex.roles, app_metadata.flex.team,
	// app_metadata.program, and password_hash or custom_password_hash
	// (bcrypt or argon2).
	Auth0 Format = "auth0"
	// Okta is an Okta user CSV export: login, email, firstName, lastName,
	// displayName, userType (comma-separated Flex roles) and status;
	// other columns are ignored.
	Okta Format = "okta"
)

// Formats lists the formats in the order help texts show them.
var Formats = []Format{CSV, JSON, NDJSON, Auth0, Okta}

// ParseFormat returns the Format named s ("" for detection).
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	if f == "" || slices.Contains(Formats, f) {
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q: use csv, json, ndjson, auth0 or okta", s)
}

// MaxFileSize is the largest file Parse reads (512 MiB, some millions of
// users): the whole file is validated before anything is written, so it is
// held in memory.
const MaxFileSize = 512 << 20

// Record is one valid user of the file.
type Record struct {
	// Line is where the user starts in the file (1-based).
	Line int
	// User is ready to store: it passes users.User.Validate, and its
	// password hash, if any, passes users.CheckHash. ID is set only when
	// the file carries one (flexidp's own formats); CreatedAt and
	// UpdatedAt are zero.
	User users.User
}

// Problem is one reason why a row (or the file) cannot be imported.
type Problem struct {
	// Line is the line of the row, or of the header (1-based).
	Line int
	// Field is the column or JSON field concerned; empty when the row as a
	// whole is at fault (invalid JSON, wrong number of CSV fields).
	Field  string
	Reason string
}

// String reads like: line 7: roles: role "superviser" is not a Flex role;
// did you mean "supervisor"?
func (p Problem) String() string {
	if p.Field == "" {
		return fmt.Sprintf("line %d: %s", p.Line, p.Reason)
	}
	return fmt.Sprintf("line %d: %s: %s", p.Line, p.Field, p.Reason)
}

// Result is what Parse found in a file.
type Result struct {
	// Format is the format read, given or detected.
	Format Format
	// Rows is the number of user rows (objects) in the file, valid or not.
	Rows int
	// Records are the valid rows, in file order.
	Records []Record
	// Problems are every problem found, ordered by line. A row with a
	// problem is not in Records.
	Problems []Problem
}

// BadRows is the number of rows with at least one problem.
func (r *Result) BadRows() int { return r.Rows - len(r.Records) }

// Users returns the users of Records.
func (r *Result) Users() []users.User {
	out := make([]users.User, len(r.Records))
	for i, rec := range r.Records {
		out[i] = rec.User
	}
	return out
}

// ErrFormat reports a file whose format cannot be told or read at all.
var ErrFormat = errors.New("importer: unrecognised file format")

var bom = []byte("\xEF\xBB\xBF")

// Parse reads a whole file of users in format f, or in the format Detect
// finds when f is "". The error is for a file that cannot be read or whose
// format cannot be told (ErrFormat); everything wrong inside the file is
// in Result.Problems. A UTF-8 byte order mark and CRLF line ends are
// accepted.
func Parse(r io.Reader, f Format) (*Result, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read users file: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("the file is larger than %d MiB; split it", MaxFileSize>>20)
	}
	data = bytes.TrimPrefix(data, bom)
	if f == "" {
		if f, err = Detect(data); err != nil {
			return nil, err
		}
	}
	if _, err := ParseFormat(string(f)); err != nil {
		return nil, err
	}
	var p parser
	switch f {
	case CSV, Okta:
		p.csv(data, f)
	case JSON, Auth0, NDJSON:
		p.json(data, f)
	}
	return p.finish(f), nil
}

// Detect tells the format of a file from its content: a JSON array or
// JSON lines (flexidp's shape or Auth0's, told apart by the fields of the
// first object), or a CSV header (Okta's login/firstName/lastName/userType
// columns, or flexidp's email column).
func Detect(data []byte) (Format, error) {
	data = bytes.TrimPrefix(data, bom)
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return "", fmt.Errorf("%w: the file is empty", ErrFormat)
	}
	switch trimmed[0] {
	case '[', '{':
		return detectJSON(trimmed)
	}
	header, err := csvHeader(data)
	if err != nil {
		return "", fmt.Errorf("%w: not JSON, and the first line is not a CSV header (%v); give --format", ErrFormat, err)
	}
	cols := map[string]bool{}
	for _, h := range header {
		cols[strings.ToLower(strings.TrimSpace(h))] = true
	}
	switch {
	case cols["login"] && (cols["firstname"] || cols["lastname"] || cols["usertype"]):
		return Okta, nil
	case cols["email"]:
		return CSV, nil
	}
	return "", fmt.Errorf("%w: a CSV header without an email column (nor Okta's login, firstName, lastName, userType); give --format", ErrFormat)
}

// row is one user being read, with what is wrong with it so far.
type row struct {
	line     int
	u        users.User
	problems []Problem
}

func (r *row) fail(field, reason string) {
	r.problems = append(r.problems, Problem{Line: r.line, Field: field, Reason: reason})
}

// failErr records err about field; an attribute error names its own
// attribute when field is "".
func (r *row) failErr(field string, err error) {
	var ae *attributes.Error
	if errors.As(err, &ae) {
		if field == "" {
			field = ae.Name
		}
		c := *ae
		c.Name = ""
		r.fail(field, c.Error())
		return
	}
	var ve *users.ValidationError
	if errors.As(err, &ve) {
		if field == "" {
			field = ve.Field
		}
		r.fail(field, ve.Reason)
		return
	}
	r.fail(field, err.Error())
}

// parser collects the rows of a file and the problems of the file itself.
type parser struct {
	rows     []*row
	problems []Problem // about the file, not one row
}

func (p *parser) newRow(line int) *row {
	r := &row{line: line}
	p.rows = append(p.rows, r)
	return r
}

func (p *parser) fileProblem(line int, field, reason string) {
	p.problems = append(p.problems, Problem{Line: max(line, 1), Field: field, Reason: reason})
}

// finish checks what needs the whole file (duplicate emails) or the whole
// user (users.User.Validate), and splits valid rows from problems.
func (p *parser) finish(f Format) *Result {
	byEmail := map[string][]*row{}
	for _, r := range p.rows {
		if r.u.Email != "" {
			k := strings.ToLower(r.u.Email)
			byEmail[k] = append(byEmail[k], r)
		}
	}
	for _, r := range p.rows {
		if same := byEmail[strings.ToLower(r.u.Email)]; len(same) > 1 {
			var others []string
			for _, o := range same {
				if o != r {
					others = append(others, fmt.Sprint(o.line))
				}
			}
			r.fail("email", fmt.Sprintf("%q is also on line %s (emails are unique, whatever their case)", r.u.Email, strings.Join(others, ", ")))
		}
	}
	res := &Result{Format: f, Rows: len(p.rows), Problems: p.problems}
	for _, r := range p.rows {
		if len(r.u.Attributes) == 0 {
			r.u.Attributes = nil
		}
		if len(r.u.Roles) == 0 {
			r.u.Roles = nil
		}
		if len(r.problems) == 0 {
			// The field checks mirror Validate; this is the safety net
			// that keeps the contract of Record.
			if err := r.u.Validate(); err != nil {
				r.failErr("", err)
			}
		}
		if len(r.problems) > 0 {
			res.Problems = append(res.Problems, r.problems...)
			continue
		}
		res.Records = append(res.Records, Record{Line: r.line, User: r.u})
	}
	sort.SliceStable(res.Problems, func(i, j int) bool { return res.Problems[i].Line < res.Problems[j].Line })
	return res
}
