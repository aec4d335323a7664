package store

import (
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/users"
)

func TestMergeImportPasswordHash(t *testing.T) {
	const bcryptOld = "$2b$04$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	const bcryptNew = "$2b$04$bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	const argon = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
	cases := []struct {
		name, stored, imported, want string
		changed                      bool
	}{
		{"no hash in the file keeps the stored one", bcryptOld, "", bcryptOld, false},
		{"a new imported hash replaces an imported one", bcryptOld, bcryptNew, bcryptNew, true},
		{"flexidp's own argon2id hash is never replaced", argon, bcryptOld, argon, false},
		{"a user without a password gets one", "", bcryptNew, bcryptNew, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			old := users.User{ID: "u1", Email: "a@example.com", PasswordHash: c.stored}
			in := users.User{Email: "a@example.com", PasswordHash: c.imported}
			got, changed := MergeImport(old, in)
			if got.PasswordHash != c.want || changed != c.changed || got.ID != "u1" {
				t.Fatalf("MergeImport = %q (changed %v, ID %q), want %q (changed %v)", got.PasswordHash, changed, got.ID, c.want, c.changed)
			}
		})
	}
}

// TestMergeImportCredentialVersion: an import that changes a password hash
// or disables a user bumps the credential version, so a sign-in already
// past the old password must start again; nothing else bumps it.
func TestMergeImportCredentialVersion(t *testing.T) {
	const bcryptOld = "$2b$04$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	const bcryptNew = "$2b$04$bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	cases := []struct {
		name         string
		stored, file users.User
		want         int64
	}{
		{"profile change only", users.User{PasswordHash: bcryptOld}, users.User{FullName: "New Name"}, 7},
		{"same hash again", users.User{PasswordHash: bcryptOld}, users.User{PasswordHash: bcryptOld}, 7},
		{"new hash", users.User{PasswordHash: bcryptOld}, users.User{PasswordHash: bcryptNew}, 8},
		{"disabled by the file", users.User{}, users.User{Disabled: true}, 8},
		{"already disabled", users.User{Disabled: true}, users.User{Disabled: true}, 7},
		{"new hash and disabled", users.User{PasswordHash: bcryptOld}, users.User{PasswordHash: bcryptNew, Disabled: true}, 9},
		{"the file's version is ignored", users.User{}, users.User{CredentialVersion: 100}, 7},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			old, in := c.stored, c.file
			old.ID, old.Email, old.CredentialVersion = "u1", "a@example.com", 7
			in.Email = "a@example.com"
			got, _ := MergeImport(old, in)
			if got.CredentialVersion != c.want {
				t.Fatalf("CredentialVersion = %d, want %d", got.CredentialVersion, c.want)
			}
		})
	}
}

// TestMergeImportKeepsConsoleRole: a file can neither grant, change nor
// remove admin console access; a user who differs only in it is unchanged.
func TestMergeImportKeepsConsoleRole(t *testing.T) {
	for _, in := range []users.ConsoleRole{users.ConsoleNone, users.ConsoleViewer, users.ConsoleOwner} {
		t.Run(in.String(), func(t *testing.T) {
			old := users.User{ID: "u1", Email: "a@example.com", ConsoleRole: users.ConsoleManager}
			imported := old
			imported.ConsoleRole = in
			got, changed := MergeImport(old, imported)
			if got.ConsoleRole != users.ConsoleManager || changed {
				t.Fatalf("MergeImport = role %q (changed %v), want manager kept, unchanged", got.ConsoleRole, changed)
			}
		})
	}
	// A file cannot disable a console owner (it could be the last one); it
	// can disable anyone else.
	for _, role := range []users.ConsoleRole{users.ConsoleOwner, users.ConsoleManager} {
		old := users.User{ID: "u1", Email: "a@example.com", ConsoleRole: role}
		imported := old
		imported.Disabled = true
		got, _ := MergeImport(old, imported)
		if want := role != users.ConsoleOwner; got.Disabled != want {
			t.Errorf("import disabling a %s: disabled = %v, want %v", role, got.Disabled, want)
		}
	}
	var r ImportResult
	got, _, err := r.Add(users.User{}, false, users.User{ID: "n1", Email: "n@example.com", ConsoleRole: users.ConsoleOwner}, time.Now())
	if err != nil || got.ConsoleRole != users.ConsoleNone {
		t.Fatalf("Add of a new owner from a file = role %q, %v; want none", got.ConsoleRole, err)
	}
}
