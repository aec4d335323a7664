package importer

import (
	"bufio"
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

// MaxFileSize is the largest file Parse and Scan read (512 MiB, some
// millions of users).
const MaxFileSize = 512 << 20

// detectBytes is how much of the start of a file Detect sees when the
// format is not given.
const detectBytes = 1 << 20

// Record is one valid user of the file.
type Record struct {
	// Line is where the user starts in the file (1-based).
	Line int
	// User is ready to store: it passes users.User.Validate, and its
	// password hash, if any, passes users.CheckHash. ID is set only when
	// the file carries one (flexidp's own formats); CreatedAt and
	// UpdatedAt are zero.
	User users.User
	// Groups are the names of the groups the file makes the user a member
	// of (the groups column or field), as stored when GroupCheck was
	// given; nil when the file names none.
	Groups []string
}

// Option changes how Parse and Scan read a file.
type Option func(*parser)

// GroupCheck checks the groups of every valid row with check, given the
// row's user and the group names it lists (none, for a row without any:
// the import may still change a user who is a member of groups). check
// returns the names as stored, or an error whose text becomes a problem
// of the row (line, field groups, reason), as a bad value does: the dry
// run reports it and nothing is imported. Without this option group
// names are only checked for form. (accounts.ImportPlan.CheckGroups is
// the store's check: the groups exist, and the profile merged with them
// has no conflict.)
func GroupCheck(check func(u users.User, names []string) ([]string, error)) Option {
	return func(p *parser) { p.groupCheck = check }
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

// ErrTooLarge reports a file larger than MaxFileSize.
var ErrTooLarge = fmt.Errorf("the file is larger than %d MiB; split it", MaxFileSize>>20)

var bom = []byte("\xEF\xBB\xBF")

// Parse reads a whole file of users in format f, or in the format Detect
// finds when f is "". The error is for a file that cannot be read or whose
// format cannot be told (ErrFormat); everything wrong inside the file is
// in Result.Problems. A UTF-8 byte order mark and CRLF line ends are
// accepted. Parse keeps every valid user; Scan keeps none.
func Parse(r io.Reader, f Format, opts ...Option) (*Result, error) {
	var recs []Record
	sum, err := Scan(r, f, func(rec Record) error {
		recs = append(recs, rec)
		return nil
	}, opts...)
	if err != nil {
		return nil, err
	}
	res := &Result{Format: sum.Format, Rows: sum.Rows, Problems: sum.Problems}
	if len(sum.Retracted) == 0 {
		res.Records = recs
		return res, nil
	}
	retracted := make(map[string]bool, len(sum.Retracted))
	for _, e := range sum.Retracted {
		retracted[e] = true
	}
	for _, rec := range recs {
		if !retracted[strings.ToLower(rec.User.Email)] {
			res.Records = append(res.Records, rec)
		}
	}
	return res, nil
}

// Summary is what Scan found in a file: everything Result has but the
// users.
type Summary struct {
	// Format is the format read, given or detected.
	Format Format
	// Rows is the number of user rows (objects) in the file, valid or not.
	Rows int
	// Valid is the number of valid rows: those handed to Scan's each,
	// less those Retracted.
	Valid int
	// Problems are every problem found, ordered by line.
	Problems []Problem
	// Retracted are the emails (lower-cased) of users handed to each whose
	// email turned out to appear again later in the file: they are not
	// valid after all, and their lines are in Problems.
	Retracted []string
}

// BadRows is the number of rows with at least one problem.
func (s *Summary) BadRows() int { return s.Rows - s.Valid }

// Scan reads a file like Parse, but hands each valid user to each as soon
// as its row is read and keeps none: what it holds grows with the file
// only by one email per user (to find duplicates) and the problems. CSV
// and JSON lines are read as a stream; a JSON array is read whole. A user
// handed to each may be named in Summary.Retracted at the end, when its
// email appears again further down. An error from each stops Scan and is
// returned.
func Scan(r io.Reader, f Format, each func(Record) error, opts ...Option) (*Summary, error) {
	cr := &countingReader{r: io.LimitReader(r, MaxFileSize+1)}
	br := bufio.NewReaderSize(cr, detectBytes)
	if head, _ := br.Peek(len(bom)); bytes.Equal(head, bom) {
		br.Discard(len(bom))
	}
	head, err := br.Peek(detectBytes)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read users file: %w", err)
	}
	if f == "" {
		if f, err = Detect(head); err != nil {
			return nil, err
		}
	}
	if _, err := ParseFormat(string(f)); err != nil {
		return nil, err
	}
	p := parser{each: each, seen: map[string]firstRow{}}
	for _, o := range opts {
		o(&p)
	}
	switch trimmed := bytes.TrimLeft(head, " \t\r\n"); {
	case f == CSV, f == Okta:
		p.csv(br, f)
	case f == NDJSON, f == Auth0 && (len(trimmed) == 0 || trimmed[0] != '['):
		p.jsonLines(br, f)
	default:
		data, err := io.ReadAll(br)
		if err != nil {
			return nil, fmt.Errorf("read users file: %w", err)
		}
		p.jsonArray(data, p.decoder(f))
	}
	p.flush()
	switch {
	case cr.n > MaxFileSize:
		return nil, ErrTooLarge
	case p.err != nil:
		return nil, p.err
	}
	return p.summary(f), nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
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
	groups   []string
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

// parser reads the rows of a file one by one: a row is complete when the
// next one starts (newRow) or the file ends (flush), and is then checked
// and, if valid, handed to each.
type parser struct {
	each       func(Record) error
	err        error               // from each, or from reading: stops the parse
	cur        *row                // the row being read
	rows       int                 // rows read
	handed     int                 // rows handed to each
	seen       map[string]firstRow // lower-cased email -> its first row
	dups       map[string][]firstRow
	problems   []Problem                                            // about the file, not one row
	rowProbs   []Problem                                            // about rows, in row order
	groupCheck func(u users.User, names []string) ([]string, error) // GroupCheck, or nil
}

// firstRow is where an email was seen, for duplicate messages.
type firstRow struct {
	line   int
	email  string
	handed bool
}

func (p *parser) newRow(line int) *row {
	p.flush()
	p.cur = &row{line: line}
	p.rows++
	return p.cur
}

func (p *parser) fileProblem(line int, field, reason string) {
	p.problems = append(p.problems, Problem{Line: max(line, 1), Field: field, Reason: reason})
}

// stopped reports whether the parse must stop (each or a read failed).
func (p *parser) stopped() bool { return p.err != nil }

// flush checks the current row as a whole (duplicate emails so far,
// users.User.Validate) and hands it to each if it is valid.
func (p *parser) flush() {
	r := p.cur
	if r == nil {
		return
	}
	p.cur = nil
	if len(r.u.Attributes) == 0 {
		r.u.Attributes = nil
	}
	if len(r.u.Roles) == 0 {
		r.u.Roles = nil
	}
	k := strings.ToLower(r.u.Email)
	first, dup := p.seen[k]
	if dup && r.u.Email != "" {
		if p.dups == nil {
			p.dups = map[string][]firstRow{}
		}
		if len(p.dups[k]) == 0 {
			p.dups[k] = []firstRow{first}
		}
		p.dups[k] = append(p.dups[k], firstRow{line: r.line, email: r.u.Email})
	}
	dup = dup && r.u.Email != ""
	if len(r.problems) == 0 && !dup {
		// The field checks mirror Validate; this is the safety net
		// that keeps the contract of Record.
		if err := r.u.Validate(); err != nil {
			r.failErr("", err)
		} else {
			p.checkGroups(r)
		}
	}
	p.rowProbs = append(p.rowProbs, r.problems...)
	handed := len(r.problems) == 0 && !dup && p.err == nil
	if r.u.Email != "" && !dup {
		p.seen[k] = firstRow{line: r.line, email: r.u.Email, handed: handed}
	}
	if !handed {
		return
	}
	p.handed++
	if err := p.each(Record{Line: r.line, User: r.u, Groups: r.groups}); err != nil {
		p.err = err
	}
}

// summary reports the duplicate emails and orders the problems by line.
func (p *parser) summary(f Format) *Summary {
	s := &Summary{Format: f, Rows: p.rows, Valid: p.handed}
	probs := p.rowProbs
	for k, rows := range p.dups {
		if rows[0].handed {
			s.Retracted = append(s.Retracted, k)
			s.Valid--
		}
		for i, r := range rows {
			var others []string
			for j, o := range rows {
				if j != i {
					others = append(others, fmt.Sprint(o.line))
				}
			}
			probs = append(probs, Problem{Line: r.line, Field: "email",
				Reason: fmt.Sprintf("%q is also on line %s (emails are unique, whatever their case)", r.email, strings.Join(others, ", "))})
		}
	}
	sort.Strings(s.Retracted)
	s.Problems = append(p.problems, probs...)
	sort.SliceStable(s.Problems, func(i, j int) bool { return s.Problems[i].Line < s.Problems[j].Line })
	return s
}
