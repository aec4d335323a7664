package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/users"
)

// ImportResult counts what ImportUsers did (or, in a dry run, would do).
type ImportResult struct {
	Created   int // users that did not exist
	Updated   int // existing users with at least one field changed
	Unchanged int // existing users already equal to the import: not written
}

// Total is the number of users imported.
func (r ImportResult) Total() int { return r.Created + r.Updated + r.Unchanged }

// Add decides what ImportUsers does with u, given old, the stored user
// with the same email if found, and counts it in r: it returns the user to
// write (a new one stamped with now where its times are zero, or the merge
// with old stamped UpdatedAt now) and whether to write it at all. A new
// user without an ID is an error. Backends call it for each user, so they
// count alike.
func (r *ImportResult) Add(old users.User, found bool, u users.User, now time.Time) (out users.User, write bool, err error) {
	if !found {
		if u.ID == "" {
			return u, false, fmt.Errorf("import users: new user %s has no ID", u.Email)
		}
		if u.CreatedAt.IsZero() {
			u.CreatedAt = now
		}
		if u.UpdatedAt.IsZero() {
			u.UpdatedAt = now
		}
		u.ConsoleRole = users.ConsoleNone // an import never grants console access
		r.Created++
		return u, true, nil
	}
	merged, changed := MergeImport(old, u)
	if !changed {
		r.Unchanged++
		return merged, false, nil
	}
	merged.UpdatedAt = now
	r.Updated++
	return merged, true, nil
}

// MergeImport returns what ImportUsers stores when imported meets old, the
// stored user with the same email (case-insensitively), and whether that
// differs from old. Every backend merges with this function, so they agree
// on what "unchanged" means:
//
//   - ID, CreatedAt and UpdatedAt are old's (the store stamps UpdatedAt
//     when it writes);
//   - the profile (email as spelled in the file, names, image URL, roles,
//     team, program, attributes) is imported's;
//   - the password hash is replaced only when imported carries one, so a
//     file without hashes never signs anybody out of their password, and
//     never when the stored hash is argon2id (flexidp's own: the user has
//     signed in here or was given a password here since the export);
//   - Disabled is sticky: an import can disable a user but not enable one,
//     so re-running an old export cannot restore access an administrator
//     removed (idp users enable does that, deliberately);
//   - the credential version is old's, bumped when the import changes the
//     password hash or disables the user (users.User.CredentialsChanged);
//   - the console role is old's: a file cannot grant, change or remove
//     admin console access (accounts.Service.Grant does, audited), and a
//     new user from a file has none (ImportResult.Add); nor can a file
//     disable a console owner, so an import can never leave the console
//     without one (idp users disable does, under the last-owner rule).
func MergeImport(old, imported users.User) (merged users.User, changed bool) {
	merged = imported
	merged.ID, merged.CreatedAt, merged.UpdatedAt = old.ID, old.CreatedAt, old.UpdatedAt
	merged.PasswordHash, merged.Disabled, merged.CredentialVersion = old.PasswordHash, old.Disabled, old.CredentialVersion
	merged.ConsoleRole, merged.ExternalID = old.ConsoleRole, old.ExternalID
	// A stored argon2id hash was made by flexidp: the user signed in here
	// (upgrading the imported hash) or an administrator set the password.
	// A hash from the old IdP is older, so re-importing an old export must
	// not bring back a password the user has since changed.
	if imported.PasswordHash != "" && imported.PasswordHash != old.PasswordHash && !strings.HasPrefix(old.PasswordHash, "$argon2id$") {
		merged.SetPasswordHash(imported.PasswordHash)
	}
	if imported.Disabled && !old.Disabled && old.ConsoleRole != users.ConsoleOwner {
		merged.Disable()
	}
	return merged, !sameStored(old, merged)
}

// sameStored reports whether a and b hold the same stored fields; a nil and
// an empty list or set are the same, as every store reads them back alike.
func sameStored(a, b users.User) bool {
	return a.ID == b.ID && a.Email == b.Email && a.FullName == b.FullName && a.GivenName == b.GivenName &&
		a.FamilyName == b.FamilyName && a.ImageURL == b.ImageURL && slices.Equal(a.Roles, b.Roles) &&
		a.Team == b.Team && a.Program == b.Program && maps.Equal(a.Attributes, b.Attributes) &&
		a.PasswordHash == b.PasswordHash && a.Disabled == b.Disabled && a.CredentialVersion == b.CredentialVersion &&
		a.ConsoleRole == b.ConsoleRole && a.ExternalID == b.ExternalID
}

type progressKey struct{}

// WithImportProgress returns a context that makes ImportUsers call report
// as it writes: done of total users written so far. report is called from
// the importing goroutine, at most every few hundred users and once at the
// end; it must be quick. It is a context value, not a parameter, because it
// only observes: an import behaves the same without it.
func WithImportProgress(ctx context.Context, report func(done, total int)) context.Context {
	return context.WithValue(ctx, progressKey{}, report)
}

// ImportProgress returns the reporter set by WithImportProgress, or one
// that does nothing. Backends call it.
func ImportProgress(ctx context.Context) func(done, total int) {
	if f, ok := ctx.Value(progressKey{}).(func(done, total int)); ok && f != nil {
		return f
	}
	return func(int, int) {}
}

// CheckImportEmails refuses a batch in which two users share an email,
// case-insensitively: the second would silently overwrite the first.
// Backends call it before writing; the error wraps ErrConflict.
func CheckImportEmails(us []users.User) error {
	seen := make(map[string]struct{}, len(us))
	for _, u := range us {
		k := strings.ToLower(u.Email)
		if _, dup := seen[k]; dup {
			return fmt.Errorf("import users: %s is given twice: %w", u.Email, ErrConflict)
		}
		seen[k] = struct{}{}
	}
	return nil
}
