package accounts_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// TestConsolePermissions is the permission table read back: least
// privilege, and nothing for no role or an unknown one.
func TestConsolePermissions(t *testing.T) {
	all := []accounts.Permission{accounts.ReadUsers, accounts.ReadAudit, accounts.ManageUsers, accounts.ImportExport,
		accounts.ManageSPs, accounts.ManageKeys, accounts.ManageTokens, accounts.ManageConsoleRoles}
	want := map[users.ConsoleRole][]accounts.Permission{
		users.ConsoleNone:    nil,
		"admin":              nil,
		users.ConsoleViewer:  {accounts.ReadUsers, accounts.ReadAudit},
		users.ConsoleManager: {accounts.ReadUsers, accounts.ReadAudit, accounts.ManageUsers, accounts.ImportExport},
		users.ConsoleOwner:   all,
	}
	for role, allowed := range want {
		t.Run(role.String(), func(t *testing.T) {
			for _, p := range all {
				w := false
				for _, a := range allowed {
					w = w || a == p
				}
				if got := accounts.Allows(role, p); got != w {
					t.Errorf("Allows(%q, %s) = %v, want %v", role, p, got, w)
				}
			}
		})
	}
}

// TestGrantIsAuditedAndChecked: a grant records the role before and
// after; a disabled user, an unknown role and a missing user are refused
// with a sentence; granting the same role again records nothing.
func TestGrantIsAuditedAndChecked(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.addUser(t, "ann@example.com")

	got, err := f.svc.Grant(ctx, admin, "ANN@example.com", users.ConsoleManager)
	if err != nil || got.ConsoleRole != users.ConsoleManager {
		t.Fatalf("Grant manager = %q, %v", got.ConsoleRole, err)
	}
	stored, err := f.st.GetUser(ctx, u.ID)
	if err != nil || stored.ConsoleRole != users.ConsoleManager {
		t.Fatalf("stored role %q, %v; want manager", stored.ConsoleRole, err)
	}
	evs := f.audit(t, "admin.user.grant")
	if len(evs) != 1 || evs[0].Actor != admin.Name || evs[0].UserID != u.ID {
		t.Fatalf("grant events %+v, want one by %s for %s", evs, admin.Name, u.ID)
	}
	var d struct{ Before, After map[string]string }
	if err := json.Unmarshal(evs[0].Details, &d); err != nil || d.Before["console_role"] != "" || d.After["console_role"] != "manager" {
		t.Fatalf("grant details %s (%v), want before '' and after manager", evs[0].Details, err)
	}
	if _, err := f.svc.Grant(ctx, admin, u.ID, users.ConsoleManager); err != nil {
		t.Fatalf("Grant of the same role: %v", err)
	}
	if n := len(f.audit(t, "admin.user.grant")); n != 1 {
		t.Fatalf("%d grant events after granting the same role again, want 1", n)
	}

	// A profile change cannot touch the console role.
	if _, err := f.svc.UpdateUser(ctx, admin, u.ID, "user.update", func(u *users.User) error {
		u.ConsoleRole = users.ConsoleOwner
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if stored, _ := f.st.GetUser(ctx, u.ID); stored.ConsoleRole != users.ConsoleManager {
		t.Fatalf("UpdateUser changed the console role to %q", stored.ConsoleRole)
	}

	b := f.addUser(t, "bob@example.com")
	if _, err := f.svc.Disable(ctx, admin, b.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, ref string
		role      users.ConsoleRole
		code      accounts.Code
		says      string
	}{
		{"disabled user", b.ID, users.ConsoleViewer, accounts.Conflict, "is disabled"},
		{"unknown role", u.ID, "admin", accounts.Invalid, "not a console role"},
		{"no such user", "nobody@example.com", users.ConsoleViewer, accounts.NotFound, "no user"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.svc.Grant(ctx, admin, c.ref, c.role)
			if code(err) != c.code || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("Grant = %v (%s), want %s saying %q", err, code(err), c.code, c.says)
			}
		})
	}
	if n := len(f.audit(t, "admin.user.grant")); n != 1 {
		t.Fatalf("%d grant events after refused grants, want 1", n)
	}
	// Revoking a disabled user's access is allowed.
	if _, err := f.svc.Grant(ctx, admin, b.ID, users.ConsoleNone); err != nil {
		t.Fatalf("revoke of a disabled user without a role: %v", err)
	}
}

// TestLastOwnerIsProtected: the last enabled owner cannot be demoted,
// disabled or deleted (the console would have nobody to manage it); with
// a second owner each of those is allowed.
func TestLastOwnerIsProtected(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	o := f.addUser(t, "owner@example.com")
	if _, err := f.svc.Grant(ctx, admin, o.ID, users.ConsoleOwner); err != nil {
		t.Fatal(err)
	}
	// A disabled owner does not count as the owner who remains.
	d := f.addUser(t, "dormant@example.com")
	if _, err := f.svc.Grant(ctx, admin, d.ID, users.ConsoleOwner); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Disable(ctx, admin, d.ID); err != nil {
		t.Fatalf("disable an owner while another remains: %v", err)
	}
	for _, c := range []struct {
		name string
		do   func() error
	}{
		{"demote", func() error { _, err := f.svc.Grant(ctx, admin, o.ID, users.ConsoleManager); return err }},
		{"revoke", func() error { _, err := f.svc.Grant(ctx, admin, o.ID, users.ConsoleNone); return err }},
		{"disable", func() error { _, err := f.svc.Disable(ctx, admin, o.ID); return err }},
		{"delete", func() error { _, err := f.svc.Delete(ctx, admin, o.ID); return err }},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.do()
			if code(err) != accounts.Conflict || !strings.Contains(err.Error(), "last console owner") {
				t.Fatalf("%s the last owner = %v (%s), want a Conflict saying so", c.name, err, code(err))
			}
			u, err := f.st.GetUser(ctx, o.ID)
			if err != nil || u.ConsoleRole != users.ConsoleOwner || u.Disabled {
				t.Fatalf("last owner after a refused %s: %+v, %v", c.name, u, err)
			}
		})
	}

	o2 := f.addUser(t, "second@example.com")
	if _, err := f.svc.Grant(ctx, admin, o2.ID, users.ConsoleOwner); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Grant(ctx, admin, o.ID, users.ConsoleViewer); err != nil {
		t.Fatalf("demote an owner while another remains: %v", err)
	}
	if _, err := f.svc.Delete(ctx, admin, o2.ID); code(err) != accounts.Conflict {
		t.Fatalf("delete of the owner who now is the last = %v, want Conflict", err)
	}
	// Non-owners are not affected.
	if _, err := f.svc.Delete(ctx, admin, o.ID); err != nil {
		t.Fatalf("delete of a viewer: %v", err)
	}
}

// TestCreateUserGrantsNothing: console access is given by Grant only.
func TestCreateUserGrantsNothing(t *testing.T) {
	f := newFixture(t)
	u, err := f.svc.CreateUser(context.Background(), admin, accounts.NewUser{
		User: users.User{Email: "eve@example.com", ConsoleRole: users.ConsoleOwner}, NoPassword: true})
	if err != nil || u.ConsoleRole != users.ConsoleNone {
		t.Fatalf("CreateUser with an owner role = %q, %v; want none", u.ConsoleRole, err)
	}
}

// TestLastOwnerAcrossServices: two services on one database (two CLI runs,
// a CLI and a replica) removing the last two owners at once: in every
// round exactly one is refused with the Conflict, and one owner remains.
// Each service used to serialise only its own changes.
func TestLastOwnerAcrossServices(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	other := accounts.New(accounts.Config{Store: f.st, Now: func() time.Time { return f.now }, Mailer: f.mail, BaseURL: fixtureBase,
		Hasher: users.NewHasher(users.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 2),
		Log:    slog.New(slog.NewJSONHandler(io.Discard, nil))})
	changes := []struct {
		name string
		do   func(svc *accounts.Service, id string) error
	}{
		{"demote", func(svc *accounts.Service, id string) error {
			_, err := svc.Grant(ctx, admin, id, users.ConsoleManager)
			return err
		}},
		{"disable", func(svc *accounts.Service, id string) error { _, err := svc.Disable(ctx, admin, id); return err }},
		{"delete", func(svc *accounts.Service, id string) error { _, err := svc.Delete(ctx, admin, id); return err }},
	}
	survivor := ""
	for round := range 30 {
		var ids [2]string
		for i := range ids {
			u := f.addUser(t, fmt.Sprintf("owner%d-%d@example.com", round, i))
			if _, err := f.svc.Grant(ctx, admin, u.ID, users.ConsoleOwner); err != nil {
				t.Fatal(err)
			}
			ids[i] = u.ID
		}
		if survivor != "" {
			if _, err := f.svc.Grant(ctx, admin, survivor, users.ConsoleNone); err != nil {
				t.Fatalf("revoke the last round's owner: %v", err)
			}
		}
		var errs [2]error
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, svc := range []*accounts.Service{f.svc, other} {
			c := changes[(round+i)%len(changes)]
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = c.do(svc, ids[i])
			}()
		}
		close(start)
		wg.Wait()
		refused := 0
		for _, err := range errs {
			if err == nil {
				continue
			}
			if code(err) != accounts.Conflict || !strings.Contains(err.Error(), "@example.com is the last console owner") {
				t.Fatalf("round %d: %v (%s), want the last-owner Conflict", round, err, code(err))
			}
			refused++
		}
		all, err := f.st.ListUsers(ctx, store.UserFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var owners []string
		for _, u := range all {
			if u.ConsoleRole == users.ConsoleOwner && !u.Disabled {
				owners = append(owners, u.ID)
			}
		}
		if refused != 1 || len(owners) != 1 {
			t.Fatalf("round %d: %d refused (%v), enabled owners %v; want 1 refused and 1 owner", round, refused, errs, owners)
		}
		survivor = owners[0]
	}
}
