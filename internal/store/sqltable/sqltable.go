// Package sqltable describes flexidp's tables once for both SQL backends
// (internal/store/postgres and internal/store/sqlite): the columns of each
// kind of record, which field of the record each column holds, and how a
// record read back is tidied. A backend supplies only how each Kind of
// value is written and read (a time as timestamptz or as integer
// microseconds, a list as text[] or as JSON text), as dex's SQL storage
// keeps one code path with a small "flavor" per database.
package sqltable

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// Kind says how a field is kept in its column.
type Kind uint8

// Kinds of field.
const (
	// Value is a string, bool or integer (or a type defined on one, such as
	// time.Duration or store.KeyState), kept as its underlying value.
	Value Kind = iota
	// Time is a time.Time, returned in UTC.
	Time
	// List is a []string; nil and empty are stored alike and read as nil.
	List
	// Bytes is a []byte; nil and empty are stored alike and read as nil.
	Bytes
	// JSON is any value kept as its JSON encoding.
	JSON
)

// Field is one column's field of a record: a pointer into it, and how it
// is kept.
type Field struct {
	Ptr  any
	Kind Kind
}

// Table is one kind of record and its table.
type Table[T any] struct {
	Noun string   // in messages: "user"
	Name string   // the table: "users"
	Cols []string // read and written; Cols[0] is the primary key
	// Fields returns v's fields in Cols order.
	Fields func(v *T) []Field
	// Key, Created and Updated point into v; Updated may be nil.
	Key              func(v *T) *string
	Created, Updated func(v *T) *time.Time
	// Check, if set, refuses a record that must not be written.
	Check func(v *T) error
	// Tidy, if set, normalises a record read back, as every backend
	// returns it.
	Tidy func(v *T)
}

// Plain returns the underlying value of a Value field's pointer, as the
// drivers take it (a store.KeyState as a string, a time.Duration as an
// int64).
func Plain(ptr any) (any, error) {
	v := reflect.ValueOf(ptr).Elem()
	switch v.Kind() {
	case reflect.String:
		return v.String(), nil
	case reflect.Bool:
		return v.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int(), nil
	}
	return nil, fmt.Errorf("sqltable: a %s is not a Value field", v.Type())
}

// PlainTarget returns a pointer the drivers can scan a Value field into,
// and a function that stores what was scanned into ptr.
func PlainTarget(ptr any) (target any, set func()) {
	v := reflect.ValueOf(ptr).Elem()
	switch v.Kind() {
	case reflect.String:
		var s string
		return &s, func() { v.SetString(s) }
	case reflect.Bool:
		var b bool
		return &b, func() { v.SetBool(b) }
	default: // integers
		var n int64
		return &n, func() { v.SetInt(n) }
	}
}

// Tidy applies what every backend does to a record read back: nil for an
// empty list or byte slice.
func TidyFields(fs []Field) {
	for _, f := range fs {
		switch p := f.Ptr.(type) {
		case *[]string:
			if len(*p) == 0 {
				*p = nil
			}
		case *[]byte:
			if len(*p) == 0 {
				*p = nil
			}
		case *time.Time:
			*p = p.UTC()
		}
	}
}

func v(p any) Field  { return Field{p, Value} }
func tm(p any) Field { return Field{p, Time} }

// Users is the users table.
var Users = Table[users.User]{
	Noun: "user",
	Name: "users",
	Cols: []string{"id", "email", "full_name", "given_name", "family_name", "image_url", "roles",
		"team", "program", "attributes", "password_hash", "disabled", "credential_version", "created_at", "updated_at", "console_role", "external_id"},
	Fields: func(u *users.User) []Field {
		return []Field{v(&u.ID), v(&u.Email), v(&u.FullName), v(&u.GivenName), v(&u.FamilyName), v(&u.ImageURL), {&u.Roles, List},
			v(&u.Team), v(&u.Program), {&u.Attributes, JSON}, v(&u.PasswordHash), v(&u.Disabled), v(&u.CredentialVersion),
			tm(&u.CreatedAt), tm(&u.UpdatedAt), v(&u.ConsoleRole), v(&u.ExternalID)}
	},
	Key:     func(u *users.User) *string { return &u.ID },
	Created: func(u *users.User) *time.Time { return &u.CreatedAt },
	Updated: func(u *users.User) *time.Time { return &u.UpdatedAt },
	Tidy: func(u *users.User) {
		if len(u.Attributes) == 0 {
			u.Attributes = nil
		}
	},
}

// Groups is the groups table.
var Groups = Table[users.Group]{
	Noun: "group",
	Name: "groups",
	Cols: []string{"id", "name", "description", "external_id", "roles", "team", "program", "attributes", "created_at", "updated_at"},
	Fields: func(g *users.Group) []Field {
		return []Field{v(&g.ID), v(&g.Name), v(&g.Description), v(&g.ExternalID), {&g.Roles, List}, v(&g.Team), v(&g.Program),
			{&g.Attributes, JSON}, tm(&g.CreatedAt), tm(&g.UpdatedAt)}
	},
	Key:     func(g *users.Group) *string { return &g.ID },
	Created: func(g *users.Group) *time.Time { return &g.CreatedAt },
	Updated: func(g *users.Group) *time.Time { return &g.UpdatedAt },
	Tidy: func(g *users.Group) {
		if len(g.Attributes) == 0 {
			g.Attributes = nil
		}
	},
}

// ServiceProviders is the service_providers table.
var ServiceProviders = Table[sp.ServiceProvider]{
	Noun: "service provider",
	Name: "service_providers",
	Cols: []string{"name", "entity_id", "acs_urls", "default_redirect_url", "session_not_on_or_after",
		"assignment_required", "policy", "created_at", "updated_at", "slo_url", "signing_certificate_pem", "allow_unsigned_requests",
		"display_name"},
	Fields: func(p *sp.ServiceProvider) []Field {
		return []Field{v(&p.Name), v(&p.EntityID), {&p.ACSURLs, List}, v(&p.DefaultRedirectURL), v(&p.SessionNotOnOrAfter),
			v(&p.AssignmentRequired), {&p.Policy, JSON}, tm(&p.CreatedAt), tm(&p.UpdatedAt), v(&p.SLOURL),
			v(&p.SigningCertificatePEM), v(&p.AllowUnsignedRequests), v(&p.DisplayName)}
	},
	Key:     func(p *sp.ServiceProvider) *string { return &p.Name },
	Created: func(p *sp.ServiceProvider) *time.Time { return &p.CreatedAt },
	Updated: func(p *sp.ServiceProvider) *time.Time { return &p.UpdatedAt },
}

// Sessions is the sessions table.
var Sessions = Table[store.Session]{
	Noun: "session",
	Name: "sessions",
	Cols: []string{"id", "user_id", "session_index", "authn_instant", "created_at", "last_seen_at",
		"expires_at", "remote_addr", "user_agent", "second_factor", "verified_at"},
	Fields: func(s *store.Session) []Field {
		return []Field{v(&s.ID), v(&s.UserID), v(&s.Index), tm(&s.AuthnInstant), tm(&s.CreatedAt), tm(&s.LastSeenAt),
			tm(&s.ExpiresAt), v(&s.RemoteAddr), v(&s.UserAgent), v(&s.SecondFactor), tm(&s.VerifiedAt)}
	},
	Key:     func(s *store.Session) *string { return &s.ID },
	Created: func(s *store.Session) *time.Time { return &s.CreatedAt },
}

// SigningKeys is the signing_keys table.
var SigningKeys = Table[store.SigningKey]{
	Noun: "signing key",
	Name: "signing_keys",
	Cols: []string{"id", "private_key", "certificate_pem", "state", "created_at", "updated_at"},
	Fields: func(k *store.SigningKey) []Field {
		return []Field{v(&k.ID), {&k.PrivateKey, Bytes}, {&k.CertificatePEM, Bytes}, v(&k.State), tm(&k.CreatedAt), tm(&k.UpdatedAt)}
	},
	Key:     func(k *store.SigningKey) *string { return &k.ID },
	Created: func(k *store.SigningKey) *time.Time { return &k.CreatedAt },
	Updated: func(k *store.SigningKey) *time.Time { return &k.UpdatedAt },
	Check:   func(k *store.SigningKey) error { return CheckKeyState(k.State) },
}

// CheckKeyState refuses a signing key state that is not one of the three.
func CheckKeyState(state store.KeyState) error {
	switch state {
	case store.KeyActive, store.KeyNext, store.KeyRetired:
		return nil
	}
	return fmt.Errorf("invalid signing key state %q", state)
}

// MFA is the mfa table.
var MFA = Table[store.MFA]{
	Noun: "second factor",
	Name: "mfa",
	Cols: []string{"user_id", "secret", "confirmed_at", "recovery_codes", "created_at", "updated_at"},
	Fields: func(m *store.MFA) []Field {
		return []Field{v(&m.UserID), {&m.Secret, Bytes}, tm(&m.ConfirmedAt), {&m.RecoveryCodes, List}, tm(&m.CreatedAt), tm(&m.UpdatedAt)}
	},
	Key:     func(m *store.MFA) *string { return &m.UserID },
	Created: func(m *store.MFA) *time.Time { return &m.CreatedAt },
	Updated: func(m *store.MFA) *time.Time { return &m.UpdatedAt },
}

// Passkeys is the passkeys table.
var Passkeys = Table[store.Passkey]{
	Noun: "passkey",
	Name: "passkeys",
	Cols: []string{"id", "user_id", "name", "public_key", "sign_count", "transports", "aaguid", "flags",
		"attestation_type", "attestation_format", "created_at", "updated_at", "last_used_at"},
	Fields: func(p *store.Passkey) []Field {
		return []Field{v(&p.ID), v(&p.UserID), v(&p.Name), {&p.PublicKey, Bytes}, v(&p.SignCount), {&p.Transports, List},
			{&p.AAGUID, Bytes}, v(&p.Flags), v(&p.AttestationType), v(&p.AttestationFormat),
			tm(&p.CreatedAt), tm(&p.UpdatedAt), tm(&p.LastUsedAt)}
	},
	Key:     func(p *store.Passkey) *string { return &p.ID },
	Created: func(p *store.Passkey) *time.Time { return &p.CreatedAt },
	Updated: func(p *store.Passkey) *time.Time { return &p.UpdatedAt },
}

// Tokens is the user_tokens table.
var Tokens = Table[store.Token]{
	Noun: "token",
	Name: "user_tokens",
	Cols: []string{"id", "user_id", "purpose", "created_at", "expires_at"},
	Fields: func(t *store.Token) []Field {
		return []Field{v(&t.ID), v(&t.UserID), v(&t.Purpose), tm(&t.CreatedAt), tm(&t.ExpiresAt)}
	},
	Key:     func(t *store.Token) *string { return &t.ID },
	Created: func(t *store.Token) *time.Time { return &t.CreatedAt },
}

// Directories is the directories table.
var Directories = Table[store.Directory]{
	Noun: "directory",
	Name: "directories",
	Cols: []string{"name", "kind", "config", "secret", "domains", "created_at", "updated_at"},
	Fields: func(d *store.Directory) []Field {
		return []Field{v(&d.Name), v(&d.Kind), v(&d.Config), {&d.Secret, Bytes}, {&d.Domains, List}, tm(&d.CreatedAt), tm(&d.UpdatedAt)}
	},
	Key:     func(d *store.Directory) *string { return &d.Name },
	Created: func(d *store.Directory) *time.Time { return &d.CreatedAt },
	Updated: func(d *store.Directory) *time.Time { return &d.UpdatedAt },
}

// DirectoryLinks is the directory_links table.
var DirectoryLinks = Table[store.DirectoryLink]{
	Noun: "directory link",
	Name: "directory_links",
	Cols: []string{"user_id", "directory", "external_id", "created_at"},
	Fields: func(l *store.DirectoryLink) []Field {
		return []Field{v(&l.UserID), v(&l.Directory), v(&l.ExternalID), tm(&l.CreatedAt)}
	},
	Key:     func(l *store.DirectoryLink) *string { return &l.UserID },
	Created: func(l *store.DirectoryLink) *time.Time { return &l.CreatedAt },
}

// Encoder returns the column value of a field of a Kind other than Value,
// as one backend keeps it.
type Encoder func(col string, f Field) (any, error)

// Args returns v's column values in Cols order: Value fields as their
// underlying value, the others as enc says. A record that Check refuses is
// not written.
func (t *Table[T]) Args(v *T, enc Encoder) ([]any, error) {
	if t.Check != nil {
		if err := t.Check(v); err != nil {
			return nil, err
		}
	}
	fs := t.Fields(v)
	out := make([]any, len(fs))
	for i, f := range fs {
		var err error
		if f.Kind == Value {
			out[i], err = Plain(f.Ptr)
		} else {
			out[i], err = enc(t.Cols[i], f)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Decoder returns where a backend scans a field of a Kind other than
// Value, and what turns the scanned value into the field (nil when it is
// scanned in place).
type Decoder func(col string, f Field) (target any, finish func() error)

// Read reads one record with scan (a row's Scan over Cols), decoding the
// fields of each Kind as dec says, then tidies it as every backend does.
func (t *Table[T]) Read(scan func(dest ...any) error, dec Decoder) (T, error) {
	var v, zero T
	fs := t.Fields(&v)
	targets := make([]any, len(fs))
	var finish []func() error
	for i, f := range fs {
		var fin func() error
		if f.Kind == Value {
			var set func()
			targets[i], set = PlainTarget(f.Ptr)
			fin = func() error { set(); return nil }
		} else {
			targets[i], fin = dec(t.Cols[i], f)
		}
		if fin != nil {
			finish = append(finish, fin)
		}
	}
	if err := scan(targets...); err != nil {
		return zero, err
	}
	for _, fin := range finish {
		if err := fin(); err != nil {
			return zero, fmt.Errorf("%s %q: %w", t.Noun, *t.Key(&v), err)
		}
	}
	TidyFields(fs)
	if t.Tidy != nil {
		t.Tidy(&v)
	}
	return v, nil
}

// OrEmpty writes a nil slice as an empty one ("[]" rather than "null", an
// empty bytea or BLOB rather than NULL).
func OrEmpty[S any](s []S) []S {
	if s == nil {
		return []S{}
	}
	return s
}

// Qualified lists cols as alias.col, for a select of a join.
func Qualified(alias string, cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = alias + "." + c
	}
	return strings.Join(q, ", ")
}

// ReadJoined reads a row holding the columns readA reads followed by those
// readB reads (a join), with one call of scan. readA and readB are a
// backend's Read with its decoder: each passes its destinations to the
// scan function it is given.
func ReadJoined[A, B any](readA func(scan func(dest ...any) error) (A, error), readB func(scan func(dest ...any) error) (B, error),
	scan func(dest ...any) error) (A, B, error) {
	var b B
	a, err := readA(func(da ...any) error {
		var err error
		b, err = readB(func(db ...any) error { return scan(append(da, db...)...) })
		return err
	})
	return a, b, err
}
