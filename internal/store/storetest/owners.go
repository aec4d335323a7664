package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// ownerChanges are the ways UpdateUser and DeleteUser can take an enabled
// console owner away.
var ownerChanges = []struct {
	name string
	do   func(ctx context.Context, s store.Store, id string) error
}{
	{"demote", func(ctx context.Context, s store.Store, id string) error {
		_, err := s.UpdateUser(ctx, id, func(u users.User) (users.User, error) {
			u.ConsoleRole = users.ConsoleManager
			return u, nil
		})
		return err
	}},
	{"disable", func(ctx context.Context, s store.Store, id string) error {
		_, err := s.UpdateUser(ctx, id, func(u users.User) (users.User, error) {
			u.Disable()
			return u, nil
		})
		return err
	}},
	{"delete", func(ctx context.Context, s store.Store, id string) error {
		return s.DeleteUser(ctx, id)
	}},
}

// newOwner creates an enabled console owner.
func newOwner(t *testing.T, s store.Store, id string) users.User {
	t.Helper()
	u := newUser(t, id, id+"@example.com")
	u.Disabled, u.ConsoleRole = false, users.ConsoleOwner
	return createUser(t, s, u)
}

// enabledOwners returns the IDs of the enabled console owners.
func enabledOwners(t *testing.T, s store.Store) []string {
	t.Helper()
	all, err := s.ListUsers(t.Context(), store.UserFilter{})
	noErr(t, err, "ListUsers")
	var out []string
	for _, u := range all {
		if u.ConsoleRole == users.ConsoleOwner && !u.Disabled {
			out = append(out, u.ID)
		}
	}
	return out
}

func testLastOwner(t *testing.T, s store.Store) {
	ctx := t.Context()
	only := newOwner(t, s, "owner")
	for _, c := range ownerChanges {
		t.Run(c.name+" the last owner", func(t *testing.T) {
			wantErr(t, c.do(ctx, s, only.ID), store.ErrLastOwner, c.name)
			got, err := s.GetUser(ctx, only.ID)
			noErr(t, err, "GetUser")
			same(t, "the last owner after a refused "+c.name, got, asStored(only))
		})
	}
	// What does not take the last enabled owner away is allowed.
	_, err := s.UpdateUser(ctx, only.ID, func(u users.User) (users.User, error) {
		u.FullName = "Still Owner"
		return u, nil
	})
	noErr(t, err, "rename the last owner")
	disabled := newOwner(t, s, "disabled-owner")
	_, err = s.UpdateUser(ctx, disabled.ID, func(u users.User) (users.User, error) {
		u.Disable()
		return u, nil
	})
	noErr(t, err, "disable an owner while another remains")
	noErr(t, s.DeleteUser(ctx, disabled.ID), "delete a disabled owner")
	manager := newUser(t, "manager", "manager@example.com")
	manager.Disabled = false
	createUser(t, s, manager)
	noErr(t, s.DeleteUser(ctx, manager.ID), "delete a manager")
	same(t, "enabled owners", enabledOwners(t, s), []string{only.ID})
}

// LastOwnerRace checks, on stores that share one database (one store, or
// several store values opened on it, as replicas and CLI runs are), that
// two concurrent changes taking away the last two enabled console owners
// cannot both succeed: in each of many rounds, exactly one is refused with
// store.ErrLastOwner and exactly one enabled owner remains. The database
// must hold no enabled owner to begin with.
func LastOwnerRace(t *testing.T, stores ...store.Store) {
	ctx := t.Context()
	const rounds = 30
	survivor := ""
	for round := range rounds {
		s := stores[round%len(stores)]
		ids := [2]string{fmt.Sprintf("a%d", round), fmt.Sprintf("b%d", round)}
		for _, id := range ids {
			newOwner(t, s, id)
		}
		if survivor != "" { // leaves a and b as the only enabled owners
			noErr(t, ownerChanges[0].do(ctx, s, survivor), "demote the last round's owner")
		}
		var errs [2]error
		var names [2]string
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, id := range ids {
			c := ownerChanges[(round+i)%len(ownerChanges)]
			if i == 1 && round%2 == 1 {
				c = ownerChanges[round%len(ownerChanges)] // the same change on both, too
			}
			names[i] = c.name + " " + id
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = c.do(ctx, stores[(round+i)%len(stores)], id)
			}()
		}
		close(start)
		wg.Wait()
		refused := 0
		for i, err := range errs {
			switch {
			case err == nil:
			case errors.Is(err, store.ErrLastOwner):
				refused++
			default:
				t.Fatalf("round %d: %s: %v", round, names[i], err)
			}
		}
		owners := enabledOwners(t, s)
		if refused != 1 || len(owners) != 1 {
			t.Fatalf("round %d: %s and %s at once: %d refused (errors %v), enabled owners %v; want 1 refused and 1 owner",
				round, names[0], names[1], refused, errs, owners)
		}
		survivor = owners[0]
	}
}
