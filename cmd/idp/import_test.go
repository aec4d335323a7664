package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/postgres"
	"github.com/flexidp/flexidp/internal/store/sqlite"
	"github.com/flexidp/flexidp/internal/users"
)

// sqliteEnv is a testEnv on a fresh SQLite database, and that store.
func sqliteEnv(t *testing.T) (*testEnv, store.Store) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "idp.db")
	db := "sqlite://" + path
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return &testEnv{t: t, dbURL: db, getenv: map[string]string{"IDP_DATABASE_URL": db}}, st
}

func sampleFile(name string) string {
	return filepath.Join("..", "..", "internal", "importer", "testdata", name)
}

func mustAttrs(t *testing.T, pairs ...string) attributes.Set {
	t.Helper()
	s, err := attributes.SetOf(pairs...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestExportImportRoundTrip exports a database, imports the file into an
// empty one and exports that: the two files are identical, and so are the
// users, IDs and hashes included. Importing the file again changes nothing.
func TestExportImportRoundTrip(t *testing.T) {
	src, st := sqliteEnv(t)
	ctx := t.Context()
	hash, err := users.NewHasher(users.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 1).Hash(ctx, password)
	if err != nil {
		t.Fatal(err)
	}
	newUserID := accounts.New(accounts.Config{Store: st}).NewUserID
	for _, u := range []users.User{
		{ID: newUserID(), Email: "Mary.Major@Example.com", FullName: `Mary "Q", Major`, GivenName: "Mary", FamilyName: "Major",
			ImageURL: "https://example.com/m.png?a=1&b=2", Roles: []string{"supervisor", "agent"}, Team: "Blue", Program: "Sales",
			PasswordHash: hash, Attributes: mustAttrs(t, "skills.intarray", "1,2,3", "channel.chat.capacity", "3", "department", "Sales, EMEA")},
		{ID: newUserID(), Email: "gone@example.com", Roles: []string{"agent"}, Disabled: true},
		{ID: newUserID(), Email: "zoë@example.com", FullName: "Zoë Ünal", Roles: []string{"wfo.team_leader"},
			Attributes: mustAttrs(t, "sales.boolean", "false")},
	} {
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	want, err := st.ListUsers(ctx, store.UserFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"ndjson", "csv"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			first, second := filepath.Join(dir, "first."+format), filepath.Join(dir, "second."+format)
			src.cli("", "users", "export", "--format", format, "--with-password-hashes", "-o", first)
			if fi, err := os.Stat(first); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("export file: %v, mode %v; want 0600", err, fi.Mode())
			}

			dst, dstStore := sqliteEnv(t)
			out := dst.cli("", "users", "import", first)
			samltest.MustContain(t, out, "format "+format+", detected", "imported 3 users: 3 created, 0 updated, 0 unchanged")
			got, err := dstStore.ListUsers(ctx, store.UserFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d users after import, want %d", len(got), len(want))
			}
			for i := range got {
				got[i].CreatedAt, got[i].UpdatedAt = want[i].CreatedAt, want[i].UpdatedAt
				if _, changed := store.MergeImport(want[i], got[i]); changed || got[i].ID != want[i].ID || got[i].Disabled != want[i].Disabled {
					t.Errorf("user %d:\n got %+v\nwant %+v", i, got[i], want[i])
				}
			}
			dst.cli("", "users", "export", "--format", format, "--with-password-hashes", "-o", second)
			a, _ := os.ReadFile(first)
			b, _ := os.ReadFile(second)
			if !bytes.Equal(a, b) {
				t.Fatalf("export → import → export differs:\n%s\n---\n%s", a, b)
			}

			// Idempotent, and it says so.
			out = src.cli("", "users", "import", first)
			samltest.MustContain(t, out, "nothing to change: all 3 users are already up to date")

			// Without --with-password-hashes, no hash leaves the database.
			out = src.cli("", "users", "export", "--format", format)
			if strings.Contains(out, "$argon2id$") {
				t.Fatal("export without --with-password-hashes wrote a hash")
			}
		})
	}
}

// TestImportAllOrNothing imports a file with bad rows: every problem is
// listed and nothing is written, unless --skip-invalid; --dry-run reports.
func TestImportAllOrNothing(t *testing.T) {
	e, st := sqliteEnv(t)
	out := e.cliWant(1, "", "users", "import", sampleFile("flexidp.csv"))
	samltest.MustContain(t, out,
		`line 4: roles: role "superviser" is not a Flex role; did you mean "supervisor"?`,
		`line 4: skills.intarray: want intarray, got "1,x" (item 2: not an integer)`,
		`line 6: email: "MARY@example.com" is also on line 2`,
		`line 7: password_hash: unsupported password hash`,
		"5 of 6 rows have problems (listed above); nothing was imported")
	if list, _ := st.ListUsers(t.Context(), store.UserFilter{}); len(list) != 0 {
		t.Fatalf("%d users written by a refused import", len(list))
	}
	// A dry run with problems fails the same way.
	e.cliWant(1, "", "users", "import", "--dry-run", sampleFile("flexidp.csv"))

	out = e.cli("", "users", "import", sampleFile("flexidp.csv"), "--skip-invalid", "--dry-run")
	samltest.MustContain(t, out, "skipping 5 invalid rows", "dry run: 1 would be created, 0 updated, 0 unchanged; nothing was written")
	if list, _ := st.ListUsers(t.Context(), store.UserFilter{}); len(list) != 0 {
		t.Fatalf("%d users written by a dry run", len(list))
	}

	out = e.cli("", "users", "import", "--skip-invalid", sampleFile("flexidp.csv"))
	samltest.MustContain(t, out, "imported 1 user: 1 created", "writing: 1 of 1 user (100%)")
	u, err := st.GetUserByEmail(t.Context(), "alex@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if u.Team != "Blue" || u.Attributes["channel.chat.capacity"].String() != "2" {
		t.Fatalf("imported user %+v", u)
	}

	// The Okta file: one bad row; the update of alex is reported as such.
	out = e.cli("", "users", "import", "--skip-invalid", sampleFile("okta.csv"), "--dry-run")
	samltest.MustContain(t, out, "(format okta, detected)", `line 4: userType: role "Employee" is not a Flex role`,
		"dry run: 1 would be created, 1 updated, 0 unchanged")

	// Usage mistakes exit 2.
	e.cliWant(2, "", "users", "import")
	e.cliWant(2, "", "users", "import", sampleFile("okta.csv"), "--format", "xml")
	e.cliWant(2, "", "users", "export", "--format", "json")
}

// TestImportedBcryptSignIn imports an Auth0 bulk-import file with a bcrypt
// hash, signs in with the old password through the HTTP server the way
// Flex sends users, and checks that the stored hash is now argon2id.
func TestImportedBcryptSignIn(t *testing.T) {
	e := newTestEnv(t)
	e.cli("", "sp", "add-flex", "--acs", flexACS)
	h, err := bcrypt.GenerateFromPassword([]byte(password), 4)
	if err != nil {
		t.Fatal(err)
	}
	hash := "$2b$" + strings.TrimPrefix(string(h), "$2a$") // Auth0 writes $2b$
	file := filepath.Join(t.TempDir(), "auth0.json")
	doc := `[{"user_id":"auth0|1","email":"Migrated@Example.com","name":"Mia Migrated",
	  "app_metadata":{"flex":{"roles":["supervisor","agent"],"team":"RAMP"},"program":"RAMP"},
	  "custom_password_hash":{"algorithm":"bcrypt","hash":{"value":"` + hash + `"}}}]`
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	out := e.cli("", "users", "import", file)
	samltest.MustContain(t, out, "(format auth0, detected)", "1 created")

	ctx := context.Background()
	st, err := postgres.Open(ctx, e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.GetUserByEmail(ctx, "migrated@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if u.PasswordHash != hash {
		t.Fatal("the imported bcrypt hash was not stored as is")
	}

	base := e.startServe()
	sp := samltest.FlexSP(t, base)
	b := samltest.NewBrowser(t)
	redirect, reqID := samltest.AuthnRedirect(t, sp, "", nil)
	status, body := b.Get(redirect)
	if status != http.StatusOK {
		t.Fatalf("SSO: %d\n%s", status, body)
	}
	if status, body = b.Login(base, body, "migrated@example.com", "not the old password"); status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d, want 401", status)
	}
	status, body = b.Login(base, body, "migrated@example.com", password)
	if status != http.StatusOK {
		t.Fatalf("login with the old password: %d\n%s", status, body)
	}
	assertion := samltest.Accepts(t, sp, samltest.Form(t, body), reqID)
	attrs := samltest.Values(assertion)
	if got := strings.Join(attrs["roles"], "|"); got != "supervisor,agent" {
		t.Errorf("roles = %q", got)
	}
	if got := strings.Join(attrs["team"], "|"); got != "RAMP" {
		t.Errorf("team = %q", got)
	}

	u, err = st.GetUserByEmail(ctx, "migrated@example.com")
	if err != nil {
		t.Fatal(err)
	}
	// serve hashes with users.DefaultParams.
	p := users.DefaultParams
	if want := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$", p.Memory, p.Iterations, p.Parallelism); !strings.HasPrefix(u.PasswordHash, want) {
		t.Fatalf("after sign-in the hash is %.30s…, want it upgraded to %s…", u.PasswordHash, want)
	}
	// A file without a hash leaves the upgraded one alone.
	noHash := strings.Replace(doc, `"custom_password_hash":{"algorithm":"bcrypt","hash":{"value":"`+hash+`"}}`, `"blocked":false`, 1)
	if err := os.WriteFile(file, []byte(noHash), 0o600); err != nil {
		t.Fatal(err)
	}
	samltest.MustContain(t, e.cli("", "users", "import", file), "nothing to change")
}

func TestProgressMeter(t *testing.T) {
	var buf bytes.Buffer
	p := &progressMeter{w: &buf, label: "writing", tty: true, step: -1}
	p.report(50, 100)
	p.report(100, 100)
	p.done()
	samltest.MustContain(t, buf.String(), "\rwriting [===============               ]  50% 50/100", "\rwriting [==============================] 100% 100/100\n")

	buf.Reset()
	p = newProgressMeter(&buf, "writing") // not a terminal: lines
	for i := 0; i <= 1000; i += 100 {
		p.report(i, 1000)
	}
	if n := strings.Count(buf.String(), "\n"); n != 11 {
		t.Fatalf("%d progress lines, want 11 (every tenth):\n%s", n, buf.String())
	}
}
