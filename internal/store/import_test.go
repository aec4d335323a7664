package store

import (
	"testing"

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
