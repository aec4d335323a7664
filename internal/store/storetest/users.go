package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// newUser is a user with every field set, stamped t0.
func newUser(t *testing.T, id, email string) users.User {
	t.Helper()
	return users.User{
		ID:                id,
		Email:             email,
		FullName:          "Mary Major",
		GivenName:         "Mary",
		FamilyName:        "Major",
		ImageURL:          "https://example.com/mary.png",
		Roles:             []string{"agent", "supervisor"},
		Team:              "Blue",
		Program:           "Sales",
		Attributes:        attrs(t, "department", "Sales", "skills.intarray", "1,2,3"),
		PasswordHash:      "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		Disabled:          true,
		CredentialVersion: 3,
		ConsoleRole:       users.ConsoleManager,
		CreatedAt:         t0,
		UpdatedAt:         t0,
	}
}

// asStored is u as the store returns it.
func asStored(u users.User) users.User {
	u.CreatedAt, u.UpdatedAt = stored(u.CreatedAt), stored(u.UpdatedAt)
	return u
}

func createUser(t *testing.T, s store.Store, u users.User) users.User {
	t.Helper()
	noErr(t, s.CreateUser(t.Context(), u), "CreateUser "+u.ID)
	return u
}

func testUserCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := createUser(t, s, newUser(t, "u1", "mary@example.com"))

	got, err := s.GetUser(ctx, "u1")
	noErr(t, err, "GetUser")
	same(t, "GetUser", got, asStored(u))
	got, err = s.GetUserByEmail(ctx, "mary@example.com")
	noErr(t, err, "GetUserByEmail")
	same(t, "GetUserByEmail", got, asStored(u))

	// Zero values round-trip too.
	bare := createUser(t, s, users.User{ID: "u2", Email: "bare@example.com", CreatedAt: t0, UpdatedAt: t0})
	got, err = s.GetUser(ctx, "u2")
	noErr(t, err, "GetUser bare")
	same(t, "GetUser bare", got, asStored(bare))

	updated, err := s.UpdateUser(ctx, "u1", func(old users.User) (users.User, error) {
		old.Email = "mary.major@example.com"
		old.FullName = "Mary Q. Major"
		old.Roles = []string{"admin"}
		old.Attributes = attrs(t, "sales.boolean", "true")
		old.SetPasswordHash("")
		old.Disabled = false
		return old, nil
	})
	noErr(t, err, "UpdateUser")
	got, err = s.GetUser(ctx, "u1")
	noErr(t, err, "GetUser after update")
	same(t, "UpdateUser result vs GetUser", updated, got)
	if got.Email != "mary.major@example.com" || got.FullName != "Mary Q. Major" || got.PasswordHash != "" || got.Disabled {
		t.Fatalf("update not stored: %+v", got)
	}
	same(t, "credential version after a password change", got.CredentialVersion, int64(4))
	same(t, "roles after update", got.Roles, []string{"admin"})
	same(t, "attributes after update", got.Attributes, attrs(t, "sales.boolean", "true"))
	if _, err := s.GetUserByEmail(ctx, "mary@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetUserByEmail(old email) after the email changed: got %v, want ErrNotFound", err)
	}
	if _, err := s.GetUserByEmail(ctx, "mary.major@example.com"); err != nil {
		t.Fatalf("GetUserByEmail(new email): %v", err)
	}

	noErr(t, s.DeleteUser(ctx, "u1"), "DeleteUser")
	_, err = s.GetUser(ctx, "u1")
	wantErr(t, err, store.ErrNotFound, "GetUser after DeleteUser")
	_, err = s.GetUserByEmail(ctx, "mary.major@example.com")
	wantErr(t, err, store.ErrNotFound, "GetUserByEmail after DeleteUser")
	wantErr(t, s.DeleteUser(ctx, "u1"), store.ErrNotFound, "DeleteUser twice")
	// The email is free again.
	createUser(t, s, newUser(t, "u3", "mary.major@example.com"))
}

func testUserTimestamps(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser(t, "u1", "a@example.com")
	u.CreatedAt, u.UpdatedAt = t0, t0.Add(time.Hour)
	createUser(t, s, u)
	got, err := s.GetUser(ctx, "u1")
	noErr(t, err, "GetUser")
	same(t, "CreatedAt (UTC, microseconds)", got.CreatedAt, stored(t0))
	same(t, "UpdatedAt (UTC, microseconds)", got.UpdatedAt, stored(t0.Add(time.Hour)))

	// Zero stamps are set by the store.
	u = newUser(t, "u2", "b@example.com")
	u.CreatedAt, u.UpdatedAt = time.Time{}, time.Time{}
	createUser(t, s, u)
	got, err = s.GetUser(ctx, "u2")
	noErr(t, err, "GetUser")
	if !got.CreatedAt.After(t0) || !got.UpdatedAt.After(t0) {
		t.Fatalf("zero CreatedAt/UpdatedAt not set by the store: %v, %v", got.CreatedAt, got.UpdatedAt)
	}

	// UpdateUser keeps CreatedAt, whatever the updater does, and sets UpdatedAt.
	updated, err := s.UpdateUser(ctx, "u1", func(old users.User) (users.User, error) {
		old.Team = "Red"
		return old, nil
	})
	noErr(t, err, "UpdateUser")
	same(t, "CreatedAt after update", updated.CreatedAt, stored(t0))
	if !updated.UpdatedAt.After(t0.Add(time.Hour)) {
		t.Fatalf("UpdatedAt after update = %v, want set by the store", updated.UpdatedAt)
	}
	same(t, "UpdatedAt in UTC", updated.UpdatedAt, stored(updated.UpdatedAt))
}

func testUserEmailCaseInsensitive(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUser(t, s, newUser(t, "u1", "Mary.Major@Example.COM"))
	for _, email := range []string{"Mary.Major@Example.COM", "mary.major@example.com", "MARY.MAJOR@EXAMPLE.COM"} {
		got, err := s.GetUserByEmail(ctx, email)
		noErr(t, err, "GetUserByEmail "+email)
		if got.ID != "u1" || got.Email != "Mary.Major@Example.COM" {
			t.Fatalf("GetUserByEmail(%q) = %s %q, want u1 with the email as entered", email, got.ID, got.Email)
		}
	}
	_, err := s.GetUserByEmail(ctx, "mary.majo@example.com")
	wantErr(t, err, store.ErrNotFound, "GetUserByEmail of a prefix")

	wantErr(t, s.CreateUser(ctx, newUser(t, "u2", "mary.major@EXAMPLE.com")), store.ErrConflict,
		"CreateUser with the same email in another case")

	// A user may change the case of its own email.
	got, err := s.UpdateUser(ctx, "u1", func(u users.User) (users.User, error) {
		u.Email = "mary.major@example.com"
		return u, nil
	})
	noErr(t, err, "UpdateUser changing the case of the email")
	same(t, "email after update", got.Email, "mary.major@example.com")
}

func testUserConflicts(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUser(t, s, newUser(t, "u1", "one@example.com"))
	createUser(t, s, newUser(t, "u2", "two@example.com"))

	wantErr(t, s.CreateUser(ctx, newUser(t, "u1", "other@example.com")), store.ErrConflict, "CreateUser with a taken ID")
	wantErr(t, s.CreateUser(ctx, newUser(t, "u3", "one@example.com")), store.ErrConflict, "CreateUser with a taken email")

	_, err := s.UpdateUser(ctx, "u2", func(u users.User) (users.User, error) {
		u.Email = "ONE@example.com"
		u.Team = "changed"
		return u, nil
	})
	wantErr(t, err, store.ErrConflict, "UpdateUser to another user's email")
	got, err := s.GetUser(ctx, "u2")
	noErr(t, err, "GetUser")
	if got.Email != "two@example.com" || got.Team != "Blue" {
		t.Fatalf("a refused update was written: %+v", got)
	}
	list, err := s.ListUsers(ctx, store.UserFilter{})
	noErr(t, err, "ListUsers")
	if len(list) != 2 {
		t.Fatalf("ListUsers: %d users after refused creates, want 2", len(list))
	}
}

func testUserNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUser(t, s, newUser(t, "u1", "one@example.com"))
	_, err := s.GetUser(ctx, "nobody")
	wantErr(t, err, store.ErrNotFound, "GetUser")
	_, err = s.GetUserByEmail(ctx, "nobody@example.com")
	wantErr(t, err, store.ErrNotFound, "GetUserByEmail")
	updateMissing(t, "UpdateUser", s.UpdateUser)
	wantErr(t, s.DeleteUser(ctx, "nobody"), store.ErrNotFound, "DeleteUser")
}

func testUserAttributes(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := attrs(t,
		"skills.intarray", "1,2,3",
		"sales.boolean", "true",
		"channel.chat.capacity", "3",
		"channel.voice.availability", "false",
		"languages.stringarray", "en,de,fr",
		"flags.booleanarray", "true,false",
		"tags.array", "",
		"level.int", "-7",
		"department", "Sales & Support, EMEA",
		"nickname.string", "Zoë \"Z\" O'Neil",
	)
	u := newUser(t, "u1", "a@example.com")
	u.Attributes = want
	createUser(t, s, u)
	got, err := s.GetUser(ctx, "u1")
	noErr(t, err, "GetUser")
	same(t, "attributes", got.Attributes, want)
	for name, v := range want {
		if g := got.Attributes[name]; g != v || g.Type != v.Type || g.String() != v.String() {
			t.Errorf("attribute %s = %v %q, want %v %q", name, g.Type, g, v.Type, v)
		}
	}

	// No attributes at all.
	u = newUser(t, "u2", "b@example.com")
	u.Attributes = nil
	createUser(t, s, u)
	got, err = s.GetUser(ctx, "u2")
	noErr(t, err, "GetUser")
	if len(got.Attributes) != 0 {
		t.Fatalf("attributes of a user without any: %v", got.Attributes)
	}
}

// The attribute counted by testUpdateUserAtomic.
const counter = "updates.int"

func testUpdateUserAtomic(t *testing.T, s store.Store) {
	const n = 20
	u := newUser(t, "u1", "a@example.com")
	u.Roles = nil
	u.Attributes = attrs(t, counter, "0")
	createUser(t, s, u)

	errs := parallel(t, n, func(ctx context.Context, i int) error {
		_, err := s.UpdateUser(ctx, "u1", func(u users.User) (users.User, error) {
			c, ok := u.Attributes[counter].Int()
			if !ok {
				return u, fmt.Errorf("%s is %v, not an int", counter, u.Attributes[counter])
			}
			v, err := attributes.Parse(counter, strconv.FormatInt(c+1, 10))
			if err != nil {
				return u, err
			}
			u.Attributes[counter] = v
			u.Roles = append(u.Roles, fmt.Sprintf("wfo.role%02d", i))
			return u, nil
		})
		return err
	})
	for i, err := range errs {
		noErr(t, err, fmt.Sprintf("UpdateUser #%d", i))
	}
	got, err := s.GetUser(t.Context(), "u1")
	noErr(t, err, "GetUser")
	if c, _ := got.Attributes[counter].Int(); c != n {
		t.Errorf("%s = %d after %d concurrent increments: updates were lost", counter, c, n)
	}
	roles := slices.Sorted(slices.Values(got.Roles))
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("wfo.role%02d", i)
	}
	same(t, "roles after concurrent appends", roles, want)
}

func testUpdateUserUpdaterError(t *testing.T, s store.Store) {
	createUser(t, s, newUser(t, "u1", "a@example.com"))
	updateRefused(t, "UpdateUser", "u1", s.UpdateUser, s.GetUser, func(u *users.User) {
		u.Email = "b@example.com"
		u.Roles[0] = "admin"
		u.Attributes["department"] = attributes.Value{}
	})
	_, err := s.GetUserByEmail(t.Context(), "b@example.com")
	wantErr(t, err, store.ErrNotFound, "GetUserByEmail of the refused email")
}

func testListUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, u := range []struct{ id, email, name string }{
		{"u1", "carol@example.com", "Carol Smith"},
		{"u2", "Alice@example.com", "Alice Jones"},
		{"u3", "bob@example.org", "Bob O'Brien"},
		{"u4", "alice2@example.com", "Alice Smith"},
		{"u5", "dave_100%@example.net", "Dave"},
	} {
		user := newUser(t, u.id, u.email)
		user.FullName = u.name
		createUser(t, s, user)
	}
	emails := func(list []users.User) []string {
		out := make([]string, len(list))
		for i, u := range list {
			out[i] = u.Email
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    store.UserFilter
		want []string
	}{
		{"all, by lower-cased email", store.UserFilter{},
			[]string{"alice2@example.com", "Alice@example.com", "bob@example.org", "carol@example.com", "dave_100%@example.net"}},
		{"limit", store.UserFilter{Limit: 2}, []string{"alice2@example.com", "Alice@example.com"}},
		{"limit above count", store.UserFilter{Limit: 50},
			[]string{"alice2@example.com", "Alice@example.com", "bob@example.org", "carol@example.com", "dave_100%@example.net"}},
		{"email substring, any case", store.UserFilter{Query: "EXAMPLE.ORG"}, []string{"bob@example.org"}},
		{"full name substring, any case", store.UserFilter{Query: "smith"}, []string{"alice2@example.com", "carol@example.com"}},
		{"email or name", store.UserFilter{Query: "alice"}, []string{"alice2@example.com", "Alice@example.com"}},
		{"query and limit", store.UserFilter{Query: "alice", Limit: 1}, []string{"alice2@example.com"}},
		{"quote", store.UserFilter{Query: "o'b"}, []string{"bob@example.org"}},
		{"percent is literal", store.UserFilter{Query: "%"}, []string{"dave_100%@example.net"}},
		{"underscore is literal", store.UserFilter{Query: "e_c"}, nil},
		{"no match", store.UserFilter{Query: "zed"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, err := s.ListUsers(ctx, tc.f)
			noErr(t, err, "ListUsers")
			same(t, fmt.Sprintf("ListUsers(%+v)", tc.f), emails(list), tc.want)
		})
	}

	// The result is the caller's.
	list, err := s.ListUsers(ctx, store.UserFilter{})
	noErr(t, err, "ListUsers")
	list[0].Roles[0] = "changed"
	list[0].Attributes["department"] = attributes.Value{}
	got, err := s.GetUser(ctx, list[0].ID)
	noErr(t, err, "GetUser")
	if got.Roles[0] == "changed" || got.Attributes["department"] != attrs(t, "department", "Sales")["department"] {
		t.Fatal("changing a listed user changed the store")
	}
}

func testConcurrentCreateUsers(t *testing.T, s store.Store) {
	const n = 20
	all := make([]users.User, n)
	for i := range all {
		all[i] = newUser(t, id("u", i), id("user", i)+"@example.com")
	}
	errs := parallel(t, n, func(ctx context.Context, i int) error { return s.CreateUser(ctx, all[i]) })
	for i, err := range errs {
		noErr(t, err, fmt.Sprintf("CreateUser #%d", i))
	}
	list, err := s.ListUsers(t.Context(), store.UserFilter{})
	noErr(t, err, "ListUsers")
	if len(list) != n {
		t.Fatalf("ListUsers: %d users, want %d", len(list), n)
	}
	for i, u := range list {
		if u.ID != id("u", i) {
			t.Fatalf("ListUsers[%d] = %s, want %s", i, u.ID, id("u", i))
		}
	}
}

// searchUsers is the population of the search and paging cases: mixed
// case, non-ASCII emails (É sorts after z by its folded bytes), roles that
// contain one another's names, teams that are prefixes of one another.
func searchUsers(t *testing.T, s store.Store) {
	t.Helper()
	for _, u := range []struct {
		id, email, name string
		roles           []string
		team            string
		disabled        bool
	}{
		{"u1", "Émile@Example.com", "Émile Zola", []string{"agent"}, "Blue", false},
		{"u2", "émilie@example.com", "Émilie du Châtelet", []string{"agent", "supervisor"}, "Red", false},
		{"u3", "ALICE@example.com", "Alice Adams", []string{"agent", "supervisor"}, "Red", true},
		{"u4", "bob@example.com", "Bob Brown", []string{"supervisor"}, "Blue", false},
		{"u5", "Zoë@example.com", "Zoë Öberg", []string{"admin"}, "", true},
		{"u6", "carol@example.com", "Carol Agent", nil, "Blue Team", false},
		{"u7", "dave@example.com", "Dave", []string{"wfo.agent", "agents", `x"agent`, `y\`}, "blue", false},
	} {
		user := newUser(t, u.id, u.email)
		user.FullName, user.Roles, user.Team, user.Disabled = u.name, u.roles, u.team, u.disabled
		createUser(t, s, user)
	}
}

func ids(list []users.User) []string {
	out := make([]string, len(list))
	for i, u := range list {
		out[i] = u.ID
	}
	return out
}

func testUserSearch(t *testing.T, s store.Store) {
	ctx := t.Context()
	searchUsers(t, s)
	yes, no := true, false
	for _, tc := range []struct {
		name string
		f    store.UserFilter
		want []string // IDs, in order
	}{
		{"everyone, by folded email", store.UserFilter{}, []string{"u3", "u4", "u6", "u7", "u5", "u1", "u2"}},
		{"role is exact", store.UserFilter{Role: "agent"}, []string{"u3", "u1", "u2"}},
		{"role among several", store.UserFilter{Role: "supervisor"}, []string{"u3", "u4", "u2"}},
		{"role nobody has", store.UserFilter{Role: "agen"}, nil},
		{"role with a quote", store.UserFilter{Role: `x"agent`}, []string{"u7"}},
		{"role with a backslash", store.UserFilter{Role: `y\`}, []string{"u7"}},
		{"no role", store.UserFilter{NoRole: true}, []string{"u6"}},
		{"no role, enabled", store.UserFilter{NoRole: true, Disabled: &no}, []string{"u6"}},
		{"no role, disabled", store.UserFilter{NoRole: true, Disabled: &yes}, nil},
		{"role is case-sensitive", store.UserFilter{Role: "Agent"}, nil},
		{"team is exact", store.UserFilter{Team: "Blue"}, []string{"u4", "u1"}},
		{"team is case-sensitive", store.UserFilter{Team: "blue"}, []string{"u7"}},
		{"disabled", store.UserFilter{Disabled: &yes}, []string{"u3", "u5"}},
		{"enabled", store.UserFilter{Disabled: &no}, []string{"u4", "u6", "u7", "u1", "u2"}},
		{"query folds non-ASCII", store.UserFilter{Query: "ÉMIL"}, []string{"u1", "u2"}},
		{"query in the name", store.UserFilter{Query: "öberg"}, []string{"u5"}},
		{"query is not a role", store.UserFilter{Query: "agent"}, []string{"u6"}},
		{"role and team", store.UserFilter{Role: "agent", Team: "Red"}, []string{"u3", "u2"}},
		{"role, team and enabled", store.UserFilter{Role: "agent", Team: "Red", Disabled: &no}, []string{"u2"}},
		{"query and role", store.UserFilter{Query: "example.com", Role: "supervisor", Disabled: &no}, []string{"u4", "u2"}},
		{"query and team, none", store.UserFilter{Query: "bob", Team: "Red"}, nil},
		{"role and limit", store.UserFilter{Role: "agent", Limit: 2}, []string{"u3", "u1"}},
		{"after a cursor", store.UserFilter{After: store.UserCursor{Email: "dave@example.com", ID: "u7"}}, []string{"u5", "u1", "u2"}},
		{"after a cursor, any case", store.UserFilter{After: store.UserCursor{Email: "DAVE@EXAMPLE.COM", ID: "u7"}}, []string{"u5", "u1", "u2"}},
		{"after a non-ASCII cursor", store.UserFilter{After: store.UserCursor{Email: "Émile@Example.com", ID: "u1"}}, []string{"u2"}},
		{"after a cursor with a filter", store.UserFilter{Role: "agent", After: store.UserCursor{Email: "alice@example.com", ID: "u3"}, Limit: 1}, []string{"u1"}},
		{"same email, later ID", store.UserFilter{After: store.UserCursor{Email: "bob@example.com", ID: "u0"}, Limit: 1}, []string{"u4"}},
		{"after the last", store.UserFilter{After: store.UserCursor{Email: "émilie@example.com", ID: "u2"}}, nil},
		{"after someone who is gone", store.UserFilter{After: store.UserCursor{Email: "bz@example.com", ID: "x"}, Limit: 2}, []string{"u6", "u7"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, err := s.ListUsers(ctx, tc.f)
			noErr(t, err, "ListUsers")
			same(t, fmt.Sprintf("ListUsers(%+v)", tc.f), ids(list), tc.want)

			unpaged := tc.f
			unpaged.After, unpaged.Limit = store.UserCursor{}, 0
			all, err := s.ListUsers(ctx, unpaged)
			noErr(t, err, "ListUsers without paging")
			n, err := s.CountUsers(ctx, tc.f)
			noErr(t, err, "CountUsers")
			if n != len(all) {
				t.Fatalf("CountUsers(%+v) = %d, want %d (the list without After and Limit)", tc.f, n, len(all))
			}
		})
	}
}

// testUserPaging pages through every user with small limits, with and
// without a filter: each user comes exactly once, in the order of the
// whole list, and the pages agree with CountUsers.
func testUserPaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	searchUsers(t, s)
	// More users whose folded emails interleave the first ones; every
	// third is a supervisor.
	for i, local := range []string{"Anna", "anna.b", "BORIS", "Ça", "çb", "Dörte", "dora", "ÆSIR", "ærø", "Ω", "ω2", "zz", "Zy"} {
		u := newUser(t, fmt.Sprintf("p%02d", i), local+"@Example.org")
		u.Roles = []string{"agent"}
		if i%3 == 0 {
			u.Roles = []string{"supervisor"}
		}
		createUser(t, s, u)
	}
	for _, f := range []store.UserFilter{{}, {Role: "supervisor"}, {Query: "EXAMPLE.ORG"}, {Disabled: new(bool)}} {
		all, err := s.ListUsers(ctx, f)
		noErr(t, err, "ListUsers")
		// The whole list is in order: folded email, then ID.
		if !slices.IsSortedFunc(all, func(a, b users.User) int {
			return cmp.Or(strings.Compare(strings.ToLower(a.Email), strings.ToLower(b.Email)), strings.Compare(a.ID, b.ID))
		}) {
			t.Fatalf("ListUsers(%+v) is not ordered by folded email: %v", f, ids(all))
		}
		n, err := s.CountUsers(ctx, f)
		noErr(t, err, "CountUsers")
		if n != len(all) || n == 0 {
			t.Fatalf("CountUsers(%+v) = %d, ListUsers has %d", f, n, len(all))
		}
		for limit := 1; limit <= 4; limit++ {
			var got []string
			page := f
			page.Limit = limit
			for pages := 0; ; pages++ {
				if pages > len(all) {
					t.Fatalf("%+v limit %d: more pages than users", f, limit)
				}
				list, err := s.ListUsers(ctx, page)
				noErr(t, err, "ListUsers page")
				if len(list) > limit {
					t.Fatalf("%+v limit %d: a page of %d", f, limit, len(list))
				}
				got = append(got, ids(list)...)
				if len(list) < limit {
					break
				}
				page.After = store.CursorOf(list[len(list)-1])
			}
			same(t, fmt.Sprintf("pages of %d of %+v", limit, f), got, ids(all))
		}
	}
}
