package importer

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/flexidp/flexidp/internal/users"
)

// WriteNDJSON writes us in flexidp's NDJSON format, one object per line:
//
//	{"id":"…","email":"mary@example.com","full_name":"Mary Major","given_name":"Mary",
//	 "family_name":"Major","image_url":"","roles":["supervisor","agent"],"team":"Blue",
//	 "program":"Sales","disabled":false,"attributes":{"skills.intarray":[1,2]},
//	 "password_hash":"$argon2id$…"}
//
// Every key is always present, except password_hash, written only when
// withHashes is set and the user has one. Roles are a JSON array (empty
// for none); attributes an object of typed JSON values. Parse reads it
// back (NDJSON, or JSON for an array of the same objects) to the same
// users.
func WriteNDJSON(w io.Writer, us []users.User, withHashes bool, opts ...ExportOption) error {
	o := exportOptions(opts)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, u := range us {
		j := jsonUser{ID: u.ID, Email: u.Email, FullName: u.FullName, GivenName: u.GivenName,
			FamilyName: u.FamilyName, ImageURL: u.ImageURL, Roles: u.Roles, Team: u.Team, Program: u.Program,
			Disabled: u.Disabled, Attributes: make(map[string]json.RawMessage, len(u.Attributes))}
		if j.Roles == nil {
			j.Roles = []string{}
		}
		for name, v := range u.Attributes {
			raw, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("user %s: attribute %s: %w", u.Email, name, err)
			}
			j.Attributes[name] = raw
		}
		if withHashes {
			j.PasswordHash = u.PasswordHash
		}
		j.Groups = o.groups[u.ID]
		if err := enc.Encode(j); err != nil {
			return fmt.Errorf("write user %s: %w", u.Email, err)
		}
	}
	return nil
}

// WriteCSV writes us in flexidp's CSV format: the columns email,
// full_name, given_name, family_name, image_url, roles, team, program,
// disabled, id, then password_hash when withHashes is set, then one column
// per attribute name any user has, in name order. CSV cannot tell an empty
// value from no value, so a user with an empty attribute value (an empty
// array, an empty string) is refused: export it as NDJSON.
func WriteCSV(w io.Writer, us []users.User, withHashes bool, opts ...ExportOption) error {
	o := exportOptions(opts)
	seen := map[string]bool{}
	var attrs []string
	for _, u := range us {
		for name, v := range u.Attributes {
			if slices.Contains(fieldColumns, strings.ToLower(name)) {
				return fmt.Errorf("user %s: attribute %s has the name of a CSV column; export as NDJSON", u.Email, name)
			}
			if v.String() == "" {
				return fmt.Errorf("user %s: attribute %s has an empty value, which CSV cannot tell from no attribute; export as NDJSON", u.Email, name)
			}
			if !seen[name] {
				seen[name] = true
				attrs = append(attrs, name)
			}
		}
	}
	sort.Strings(attrs)
	header := []string{colEmail, colFullName, colGivenName, colFamilyName, colImageURL, colRoles, colTeam, colProgram, colDisabled, colID}
	if o.groups != nil {
		header = append(header, colGroups)
	}
	if withHashes {
		header = append(header, colPasswordHash)
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(append(header, attrs...)); err != nil {
		return err
	}
	rec := make([]string, 0, len(header)+len(attrs))
	for _, u := range us {
		rec = append(rec[:0], u.Email, u.FullName, u.GivenName, u.FamilyName, u.ImageURL, strings.Join(u.Roles, ","),
			u.Team, u.Program, strconv.FormatBool(u.Disabled), u.ID)
		if o.groups != nil {
			rec = append(rec, strings.Join(o.groups[u.ID], ","))
		}
		if withHashes {
			rec = append(rec, u.PasswordHash)
		}
		for _, name := range attrs {
			v, ok := u.Attributes[name]
			if ok {
				rec = append(rec, v.String())
			} else {
				rec = append(rec, "")
			}
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write user %s: %w", u.Email, err)
		}
	}
	cw.Flush()
	return cw.Error()
}

// ExportOption changes what WriteNDJSON and WriteCSV write.
type ExportOption func(*exportOpts)

type exportOpts struct {
	groups map[string][]string
}

func exportOptions(opts []ExportOption) exportOpts {
	var o exportOpts
	for _, f := range opts {
		f(&o)
	}
	return o
}

// WithGroups writes the names of each user's groups (byUser: by user ID)
// in the groups field (NDJSON, left out when none) or column (CSV), which
// Parse reads back.
func WithGroups(byUser map[string][]string) ExportOption {
	return func(o *exportOpts) {
		o.groups = byUser
		if o.groups == nil {
			o.groups = map[string][]string{}
		}
	}
}
