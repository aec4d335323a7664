package importer

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/flexidp/flexidp/internal/attributes"
)

// The columns of flexidp CSV that are user fields, not attributes.
const (
	colEmail        = "email"
	colFullName     = "full_name"
	colGivenName    = "given_name"
	colFamilyName   = "family_name"
	colImageURL     = "image_url"
	colRoles        = "roles"
	colTeam         = "team"
	colProgram      = "program"
	colDisabled     = "disabled"
	colID           = "id"
	colPasswordHash = "password_hash"
	colGroups       = "groups"
)

var fieldColumns = []string{colEmail, colFullName, colGivenName, colFamilyName, colImageURL, colRoles,
	colTeam, colProgram, colDisabled, colID, colPasswordHash, colGroups}

func newCSVReader(data []byte) *csv.Reader {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.ReuseRecord = false
	return cr
}

// csvHeader returns the first record of data.
func csvHeader(data []byte) ([]string, error) {
	h, err := newCSVReader(data).Read()
	if err != nil {
		return nil, err
	}
	return h, nil
}

// csvColumn says what one column holds.
type csvColumn struct {
	header string // as written in the file
	field  string // a field column (flexidp) or Okta column, lower-cased
	attr   string // else: the attribute name, case kept
}

func (p *parser) csv(in io.Reader, f Format) {
	cr := csv.NewReader(in)
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			p.fileProblem(1, "", "the file is empty: a header row is required")
		} else {
			p.fileProblem(csvLine(err, 1), "", "CSV header: "+csvReason(err))
		}
		return
	}
	var cols []csvColumn
	if f == Okta {
		cols = p.oktaHeader(header)
	} else {
		cols = p.csvHeader(header)
	}
	if cols == nil {
		return
	}
	cr.FieldsPerRecord = len(header)
	line := 1
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		var pe *csv.ParseError
		if err != nil && !errors.As(err, &pe) {
			p.err = fmt.Errorf("read users file: %w", err)
			return
		}
		if err != nil {
			// FieldPos is only defined after a successful Read.
			line = max(csvLine(err, line+1), line+1)
			r := p.newRow(line)
			r.fail("", csvReason(err))
			continue
		}
		line, _ = cr.FieldPos(0)
		r := p.newRow(line)
		if f == Okta {
			r.oktaRow(cols, rec)
		} else {
			r.csvRow(cols, rec)
		}
		if p.stopped() {
			return
		}
	}
}

// csvLine is the line where the record of a CSV error starts.
func csvLine(err error, def int) int {
	var pe *csv.ParseError
	if errors.As(err, &pe) && pe.StartLine > 0 {
		return pe.StartLine
	}
	return def
}

func csvReason(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return "wrong number of fields: every row needs one per header column"
		}
		return "CSV syntax: " + pe.Err.Error()
	}
	return err.Error()
}

// csvHeader maps flexidp CSV columns; it returns nil, with problems, if the
// header cannot be used.
func (p *parser) csvHeader(header []string) []csvColumn {
	cols := make([]csvColumn, len(header))
	seen := map[string]bool{}
	ok := true
	for i, h := range header {
		name := strings.TrimSpace(h)
		if lower := strings.ToLower(name); slices.Contains(fieldColumns, lower) {
			cols[i] = csvColumn{header: h, field: lower}
			name = lower
		} else {
			base, _, err := attributes.ParseName(name)
			switch {
			case err != nil:
				p.fileProblem(1, h, fmt.Sprintf("not a user field (%s) nor a Flex attribute name: %s",
					strings.Join(fieldColumns, ", "), reasonOf(err)))
				ok = false
			case slices.Contains(fieldColumns, strings.ToLower(base)):
				p.fileProblem(1, h, fmt.Sprintf("a custom attribute cannot have the name of the %s column; give the value there", strings.ToLower(base)))
				ok = false
			}
			cols[i] = csvColumn{header: h, attr: name}
		}
		if seen[name] {
			p.fileProblem(1, h, "the column appears twice")
			ok = false
		}
		seen[name] = true
	}
	if !seen[colEmail] {
		p.fileProblem(1, "", "the header has no email column")
		ok = false
	}
	if !ok {
		return nil
	}
	return cols
}

func (r *row) csvRow(cols []csvColumn, rec []string) {
	for i, c := range cols {
		v := rec[i]
		switch c.field {
		case colEmail:
			r.setEmail(colEmail, v)
		case colFullName:
			r.setText(colFullName, "full_name", &r.u.FullName, v)
		case colGivenName:
			r.setText(colGivenName, "full_name", &r.u.GivenName, v)
		case colFamilyName:
			r.setText(colFamilyName, "full_name", &r.u.FamilyName, v)
		case colImageURL:
			r.setImageURL(colImageURL, v)
		case colRoles:
			r.setRolesList(colRoles, v)
		case colTeam:
			r.setText(colTeam, "team", &r.u.Team, v)
		case colProgram:
			r.setText(colProgram, "program", &r.u.Program, v)
		case colDisabled:
			r.setDisabled(colDisabled, v)
		case colID:
			r.setID(strings.TrimSpace(v))
		case colPasswordHash:
			r.setHash(colPasswordHash, strings.TrimSpace(v))
		case colGroups:
			if strings.TrimSpace(v) != "" {
				r.setGroups(colGroups, strings.Split(v, ","))
			}
		default:
			// An empty cell is no attribute: CSV cannot tell "" from absent.
			if v != "" {
				r.setAttr(c.attr, v)
			}
		}
	}
	r.checkAttrs()
}

// The Okta export columns read; the others are ignored.
const (
	oktaLogin       = "login"
	oktaEmail       = "email"
	oktaFirstName   = "firstname"
	oktaLastName    = "lastname"
	oktaDisplayName = "displayname"
	oktaUserType    = "usertype"
	oktaStatus      = "status"
)

func (p *parser) oktaHeader(header []string) []csvColumn {
	cols := make([]csvColumn, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		cols[i] = csvColumn{header: h, field: name}
		if seen[name] && name != "" {
			p.fileProblem(1, h, "the column appears twice")
			return nil
		}
		seen[name] = true
	}
	if !seen[oktaEmail] && !seen[oktaLogin] {
		p.fileProblem(1, "", "the header has neither an email nor a login column")
		return nil
	}
	return cols
}

func (r *row) oktaRow(cols []csvColumn, rec []string) {
	var login, email string
	for i, c := range cols {
		v := rec[i]
		switch c.field {
		case oktaLogin:
			login = v
		case oktaEmail:
			email = v
		case oktaFirstName:
			r.setText(c.header, "full_name", &r.u.GivenName, v)
		case oktaLastName:
			r.setText(c.header, "full_name", &r.u.FamilyName, v)
		case oktaDisplayName:
			r.setText(c.header, "full_name", &r.u.FullName, v)
		case oktaUserType:
			r.setRolesList(c.header, v)
		case oktaStatus:
			// Okta's life-cycle states; a user who cannot sign in to Okta
			// does not get in through flexidp either.
			switch strings.ToUpper(strings.TrimSpace(v)) {
			case "SUSPENDED", "DEPROVISIONED":
				r.u.Disabled = true
			}
		}
	}
	// Okta's login is usually the email; the email column wins.
	if strings.TrimSpace(email) != "" {
		r.setEmail("email", email)
	} else {
		r.setEmail("login", login)
	}
}

// reasonOf is an attribute error's text without the attribute's name.
func reasonOf(err error) string {
	var r row
	r.failErr("x", err)
	return r.problems[0].Reason
}
