package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// bcryptHash is a bcrypt hash of "password" (cost 4); the store
// treats hashes as opaque, so it need not match anything.
const bcryptHash = "$2a$04$WNiHneEExi/vECBkIAM8B.D/2THfMRyW0lEz4kny7KndHNbq1VjTa"

func testImportUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	// One user exists before the import.
	old := newUser(t, "u-old", "Mary@Example.com")
	old.Disabled = true
	createUser(t, s, old)

	batch := []users.User{
		{ID: "n1", Email: "new1@example.com", FullName: "New One", Roles: []string{"agent"},
			Attributes: attrs(t, "channel.chat.capacity", "3"), PasswordHash: bcryptHash,
			ConsoleRole: users.ConsoleOwner}, // an import never grants console access
		{ID: "n2", Email: "new2@example.com", CreatedAt: t0, UpdatedAt: t0},
		// Matches u-old by email in another case; carries a fresh ID that
		// must be ignored, no hash (the stored one stays), Disabled false
		// (the user stays disabled) and no console role (the stored one
		// stays).
		{ID: "ignored", Email: "mary@example.com", FullName: "Mary Major", GivenName: "Mary", FamilyName: "Major",
			ImageURL: "https://example.com/mary.png", Roles: []string{"supervisor"}, Team: "Blue", Program: "Sales",
			Attributes: attrs(t, "department", "Sales", "skills.intarray", "1,2,3")},
	}
	var reports [][2]int
	pctx := store.WithImportProgress(ctx, func(done, total int) { reports = append(reports, [2]int{done, total}) })
	res, err := s.ImportUsers(pctx, batch)
	noErr(t, err, "ImportUsers")
	same(t, "first import", res, store.ImportResult{Created: 2, Updated: 1})
	if len(reports) == 0 || reports[len(reports)-1] != [2]int{3, 3} {
		t.Fatalf("progress reports %v, want the last to be 3 of 3", reports)
	}

	got, err := s.GetUser(ctx, "u-old")
	noErr(t, err, "GetUser u-old")
	want := asStored(old)
	want.Email, want.Roles = "mary@example.com", []string{"supervisor"}
	want.UpdatedAt = got.UpdatedAt
	same(t, "updated user (keeps ID, CreatedAt, hash, console role; stays disabled)", got, want)
	if !got.UpdatedAt.After(t0) {
		t.Fatalf("UpdatedAt = %v, want stamped by the import", got.UpdatedAt)
	}
	if _, err := s.GetUser(ctx, "ignored"); err == nil {
		t.Fatal("the ID of a record matching an existing user was used")
	}
	n1, err := s.GetUserByEmail(ctx, "NEW1@example.com")
	noErr(t, err, "GetUserByEmail new1")
	if n1.ID != "n1" || n1.PasswordHash != bcryptHash || n1.CreatedAt.IsZero() || n1.UpdatedAt.IsZero() {
		t.Fatalf("new user stored as %+v", n1)
	}
	same(t, "new user attributes", n1.Attributes, batch[0].Attributes)
	same(t, "console role of a new user from a file", n1.ConsoleRole, users.ConsoleNone)
	n2, err := s.GetUser(ctx, "n2")
	noErr(t, err, "GetUser n2")
	same(t, "given timestamps kept", [2]any{n2.CreatedAt, n2.UpdatedAt}, [2]any{stored(t0), stored(t0)})

	// The same file again changes nothing, and says so.
	before, err := s.ListUsers(ctx, store.UserFilter{})
	noErr(t, err, "ListUsers")
	res, err = s.ImportUsers(ctx, batch)
	noErr(t, err, "ImportUsers again")
	same(t, "second import", res, store.ImportResult{Unchanged: 3})
	after, err := s.ListUsers(ctx, store.UserFilter{})
	noErr(t, err, "ListUsers")
	same(t, "users after a second import", after, before)

	// A hash in the file is stored for a user without one, but never
	// replaces flexidp's own argon2id hash (the user has a password here
	// now); a change of one field is one update.
	batch[2].PasswordHash = bcryptHash
	batch[1].Team = "Red"
	batch[1].PasswordHash = bcryptHash
	res, err = s.ImportUsers(ctx, batch)
	noErr(t, err, "ImportUsers with a hash")
	same(t, "third import", res, store.ImportResult{Updated: 1, Unchanged: 2})
	got, err = s.GetUser(ctx, "u-old")
	noErr(t, err, "GetUser u-old")
	same(t, "argon2id hash kept over an imported one", got.PasswordHash, old.PasswordHash)
	n2, err = s.GetUser(ctx, "n2")
	noErr(t, err, "GetUser n2")
	same(t, "hash given to a user without one", n2.PasswordHash, bcryptHash)
	same(t, "credential version after an imported hash", n2.CredentialVersion, int64(1))
	same(t, "credential version of a user whose hash was kept", got.CredentialVersion, old.CredentialVersion)
	same(t, "field changed by the import", n2.Team, "Red")

	// Nothing at all is an empty result.
	res, err = s.ImportUsers(ctx, nil)
	noErr(t, err, "ImportUsers(nil)")
	same(t, "empty import", res, store.ImportResult{})
}

func testImportUsersAllOrNothing(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUser(t, s, newUser(t, "u1", "one@example.com"))
	before, err := s.ListUsers(ctx, store.UserFilter{})
	noErr(t, err, "ListUsers")

	good := users.User{ID: "g1", Email: "good@example.com", Roles: []string{"agent"}}
	changed := newUser(t, "x", "ONE@example.com")
	changed.Team = "Changed"
	for _, c := range []struct {
		name  string
		batch []users.User
	}{
		{"same email twice", []users.User{good, changed, {ID: "g2", Email: "Good@Example.com"}}},
		{"new user with a taken ID", []users.User{good, changed, {ID: "u1", Email: "other@example.com"}}},
	} {
		_, err := s.ImportUsers(ctx, c.batch)
		wantErr(t, err, store.ErrConflict, "ImportUsers, "+c.name)
		after, err := s.ListUsers(ctx, store.UserFilter{})
		noErr(t, err, "ListUsers")
		same(t, "users after a refused import ("+c.name+")", after, before)
	}

	_, err = s.ImportUsers(ctx, []users.User{good, {Email: "noid@example.com"}})
	if err == nil {
		t.Fatal("ImportUsers of a new user without an ID succeeded")
	}
	after, err := s.ListUsers(ctx, store.UserFilter{})
	noErr(t, err, "ListUsers")
	same(t, "users after a refused import (no ID)", after, before)
}

// ImportBatch returns n valid users with distinct emails and IDs, as an
// import from Auth0 would carry them: roles, team, two attributes and a
// bcrypt hash.
func ImportBatch(n int) []users.User {
	us := make([]users.User, n)
	caps := [...]string{"1", "2", "3"}
	for i := range us {
		a, err := attributesFor(caps[i%3], i)
		if err != nil {
			panic(err) // the values above are valid
		}
		us[i] = users.User{
			ID:           fmt.Sprintf("imp-%07d", i),
			Email:        fmt.Sprintf("Agent.%07d@Example.com", i),
			FullName:     fmt.Sprintf("Agent %d", i),
			GivenName:    "Agent",
			FamilyName:   fmt.Sprint(i),
			Roles:        []string{"agent"},
			Team:         "Team " + strings.Repeat("x", i%5),
			Program:      "Retail",
			Attributes:   a,
			PasswordHash: bcryptHash,
		}
	}
	return us
}

// BenchmarkImport imports n users into a fresh store per iteration
// ("create"), and the same users again into a store that has them
// ("unchanged"); it reports rows/s. newStore is as for Run.
func BenchmarkImport(b *testing.B, n int, newStore func(tb testing.TB) store.Store) {
	batch := ImportBatch(n)
	run := func(b *testing.B, prepare func(s store.Store)) {
		for b.Loop() {
			b.StopTimer()
			s := newStore(b)
			prepare(s)
			b.StartTimer()
			if _, err := s.ImportUsers(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	}
	b.Run("create", func(b *testing.B) { run(b, func(store.Store) {}) })
	b.Run("unchanged", func(b *testing.B) {
		run(b, func(s store.Store) {
			if _, err := s.ImportUsers(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
		})
	})
}

func attributesFor(capacity string, i int) (attributes.Set, error) {
	c, err := attributes.Parse("channel.chat.capacity", capacity)
	if err != nil {
		return nil, err
	}
	sk, err := attributes.Parse("skills.intarray", fmt.Sprintf("%d,%d", i%7, i%11))
	if err != nil {
		return nil, err
	}
	return attributes.Set{"channel.chat.capacity": c, "skills.intarray": sk}, nil
}
