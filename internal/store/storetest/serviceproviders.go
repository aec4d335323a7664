package storetest

import (
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
)

// newSP is a service provider with every field set, stamped t0.
func newSP(t *testing.T, name, entityID string) sp.ServiceProvider {
	t.Helper()
	return sp.ServiceProvider{
		Name:        name,
		DisplayName: "Acme <Support> (Flex) " + name, // not the zero value, so a lost column shows
		EntityID:    entityID,
		ACSURLs: []string{
			"https://iam.twilio.com/v2/saml2/authenticate/" + name,
			"https://iam.twilio.com/v1/Accounts/AC0/saml2",
		},
		DefaultRedirectURL: "https://flex.twilio.com/" + name,
		SLOURL:             "https://sp.example.com/" + name + "/slo",
		// The store keeps the bundle as opaque text.
		SigningCertificatePEM: "-----BEGIN CERTIFICATE-----\nMIIB" + name + "\n-----END CERTIFICATE-----\n",
		AllowUnsignedRequests: true, // not the zero value, so a lost column shows
		SessionNotOnOrAfter:   8*time.Hour + 30*time.Second,
		AssignmentRequired:    true,
		Policy: attributes.Policy{
			Release:      []string{"department", "channel.*", "skills"},
			Withhold:     []string{"team", "program"},
			Static:       attrs(t, "department", "Support", "channel.chat.capacity", "2"),
			RolesFormat:  attributes.RolesMulti,
			NameID:       attributes.NameIDPersistent,
			DefaultRoles: []string{"agent"},
		},
		CreatedAt: t0,
		UpdatedAt: t0,
	}
}

func spAsStored(p sp.ServiceProvider) sp.ServiceProvider {
	p.CreatedAt, p.UpdatedAt = stored(p.CreatedAt), stored(p.UpdatedAt)
	return p
}

func createSP(t *testing.T, s store.Store, p sp.ServiceProvider) sp.ServiceProvider {
	t.Helper()
	noErr(t, s.CreateServiceProvider(t.Context(), p), "CreateServiceProvider "+p.Name)
	return p
}

func testServiceProviderCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := newSP(t, "acme", "x").Policy.Validate(); err != nil {
		t.Fatalf("fixture policy: %v", err)
	}
	p := createSP(t, s, newSP(t, "acme", "https://iam.twilio.com/v2/saml2/metadata/acme"))
	bare := createSP(t, s, sp.ServiceProvider{Name: "bare", EntityID: "urn:bare", CreatedAt: t0, UpdatedAt: t0})

	got, err := s.GetServiceProvider(ctx, "acme")
	noErr(t, err, "GetServiceProvider")
	same(t, "GetServiceProvider", got, spAsStored(p))
	got, err = s.GetServiceProviderByEntityID(ctx, p.EntityID)
	noErr(t, err, "GetServiceProviderByEntityID")
	same(t, "GetServiceProviderByEntityID", got, spAsStored(p))
	got, err = s.GetServiceProvider(ctx, "bare")
	noErr(t, err, "GetServiceProvider bare")
	same(t, "GetServiceProvider bare", got, spAsStored(bare))

	// Entity IDs compare exactly.
	_, err = s.GetServiceProviderByEntityID(ctx, "URN:BARE")
	wantErr(t, err, store.ErrNotFound, "GetServiceProviderByEntityID in another case")

	list, err := s.ListServiceProviders(ctx)
	noErr(t, err, "ListServiceProviders")
	same(t, "ListServiceProviders", list, []sp.ServiceProvider{spAsStored(p), spAsStored(bare)})

	updated, err := s.UpdateServiceProvider(ctx, "acme", func(p sp.ServiceProvider) (sp.ServiceProvider, error) {
		p.EntityID = "urn:acme:2"
		p.ACSURLs = p.ACSURLs[:1]
		p.SessionNotOnOrAfter = 0
		p.AssignmentRequired = false
		p.AllowUnsignedRequests = false
		p.DisplayName = "Acme Sales"
		p.Policy = attributes.Policy{Release: []string{"department"}}
		return p, nil
	})
	noErr(t, err, "UpdateServiceProvider")
	same(t, "name after update", updated.Name, "acme")
	same(t, "CreatedAt after update", updated.CreatedAt, stored(t0))
	if !updated.UpdatedAt.After(t0) {
		t.Fatalf("UpdatedAt after update = %v, want set by the store", updated.UpdatedAt)
	}
	got, err = s.GetServiceProviderByEntityID(ctx, "urn:acme:2")
	noErr(t, err, "GetServiceProviderByEntityID after update")
	same(t, "UpdateServiceProvider result vs stored", got, updated)
	same(t, "policy after update", got.Policy, attributes.Policy{Release: []string{"department"}})
	same(t, "AllowUnsignedRequests after update", got.AllowUnsignedRequests, false)
	same(t, "DisplayName after update", got.DisplayName, "Acme Sales")
	_, err = s.GetServiceProviderByEntityID(ctx, p.EntityID)
	wantErr(t, err, store.ErrNotFound, "GetServiceProviderByEntityID of the old entity ID")

	noErr(t, s.DeleteServiceProvider(ctx, "acme"), "DeleteServiceProvider")
	_, err = s.GetServiceProvider(ctx, "acme")
	wantErr(t, err, store.ErrNotFound, "GetServiceProvider after delete")
	wantErr(t, s.DeleteServiceProvider(ctx, "acme"), store.ErrNotFound, "DeleteServiceProvider twice")
	list, err = s.ListServiceProviders(ctx)
	noErr(t, err, "ListServiceProviders")
	same(t, "ListServiceProviders after delete", list, []sp.ServiceProvider{spAsStored(bare)})
}

func testServiceProviderConflicts(t *testing.T, s store.Store) {
	ctx := t.Context()
	createSP(t, s, newSP(t, "one", "urn:one"))
	createSP(t, s, newSP(t, "two", "urn:two"))
	wantErr(t, s.CreateServiceProvider(ctx, newSP(t, "one", "urn:other")), store.ErrConflict, "CreateServiceProvider with a taken name")
	wantErr(t, s.CreateServiceProvider(ctx, newSP(t, "three", "urn:one")), store.ErrConflict, "CreateServiceProvider with a taken entity ID")
	_, err := s.UpdateServiceProvider(ctx, "two", func(p sp.ServiceProvider) (sp.ServiceProvider, error) {
		p.EntityID = "urn:one"
		return p, nil
	})
	wantErr(t, err, store.ErrConflict, "UpdateServiceProvider to a taken entity ID")
	got, err := s.GetServiceProvider(ctx, "two")
	noErr(t, err, "GetServiceProvider")
	same(t, "entity ID after a refused update", got.EntityID, "urn:two")
	list, err := s.ListServiceProviders(ctx)
	noErr(t, err, "ListServiceProviders")
	if len(list) != 2 {
		t.Fatalf("ListServiceProviders: %d SPs after refused creates, want 2", len(list))
	}
}

func testServiceProviderNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	createSP(t, s, newSP(t, "one", "urn:one"))
	_, err := s.GetServiceProvider(ctx, "nope")
	wantErr(t, err, store.ErrNotFound, "GetServiceProvider")
	_, err = s.GetServiceProviderByEntityID(ctx, "urn:nope")
	wantErr(t, err, store.ErrNotFound, "GetServiceProviderByEntityID")
	updateMissing(t, "UpdateServiceProvider", s.UpdateServiceProvider)
	wantErr(t, s.DeleteServiceProvider(ctx, "nope"), store.ErrNotFound, "DeleteServiceProvider")
}

func testUpdateServiceProviderUpdaterError(t *testing.T, s store.Store) {
	createSP(t, s, newSP(t, "one", "urn:one"))
	updateRefused(t, "UpdateServiceProvider", "one", s.UpdateServiceProvider, s.GetServiceProvider, func(p *sp.ServiceProvider) {
		p.EntityID = "urn:changed"
		p.ACSURLs[0] = "https://evil.example.com/acs"
		p.Policy.Static["department"] = attributes.Value{}
	})
}

func testAssignments(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUser(t, s, newUser(t, "u1", "one@example.com"))
	createUser(t, s, newUser(t, "u2", "two@example.com"))
	for _, name := range []string{"zeta", "alpha", "mid"} {
		createSP(t, s, newSP(t, name, "urn:"+name))
	}

	assignments := func(userID string) []string {
		t.Helper()
		names, err := s.Assignments(ctx, userID)
		noErr(t, err, "Assignments "+userID)
		return names
	}
	same(t, "Assignments before any", assignments("u1"), nil)

	noErr(t, s.AssignUser(ctx, "u1", "zeta"), "AssignUser zeta")
	noErr(t, s.AssignUser(ctx, "u1", "alpha"), "AssignUser alpha")
	noErr(t, s.AssignUser(ctx, "u1", "alpha"), "AssignUser alpha again (idempotent)")
	noErr(t, s.AssignUser(ctx, "u2", "mid"), "AssignUser u2 mid")
	same(t, "Assignments u1 (by name)", assignments("u1"), []string{"alpha", "zeta"})
	same(t, "Assignments u2", assignments("u2"), []string{"mid"})
	noErr(t, s.AssignUser(ctx, "u2", "alpha"), "AssignUser u2 alpha")
	assignees := func(spName string, limit int) []string {
		t.Helper()
		ids, err := s.Assignees(ctx, spName, limit)
		noErr(t, err, "Assignees "+spName)
		return ids
	}
	same(t, "Assignees alpha (by ID)", assignees("alpha", 0), []string{"u1", "u2"})
	same(t, "Assignees alpha, limit 1", assignees("alpha", 1), []string{"u1"})
	same(t, "Assignees of an SP without any", assignees("nope", 0), []string(nil))
	noErr(t, s.UnassignUser(ctx, "u2", "alpha"), "UnassignUser u2 alpha")

	wantErr(t, s.AssignUser(ctx, "nobody", "alpha"), store.ErrNotFound, "AssignUser of a missing user")
	wantErr(t, s.AssignUser(ctx, "u1", "nope"), store.ErrNotFound, "AssignUser to a missing SP")

	noErr(t, s.UnassignUser(ctx, "u1", "zeta"), "UnassignUser")
	same(t, "Assignments u1 after unassign", assignments("u1"), []string{"alpha"})
	wantErr(t, s.UnassignUser(ctx, "u1", "zeta"), store.ErrNotFound, "UnassignUser twice")
	wantErr(t, s.UnassignUser(ctx, "u1", "mid"), store.ErrNotFound, "UnassignUser of another user's assignment")
	wantErr(t, s.UnassignUser(ctx, "nobody", "alpha"), store.ErrNotFound, "UnassignUser of a missing user")
	same(t, "Assignments u2 untouched", assignments("u2"), []string{"mid"})

	// The result is the caller's.
	names := assignments("u1")
	names[0] = "changed"
	same(t, "Assignments after changing a result", assignments("u1"), []string{"alpha"})
}

func testAssignmentsCascade(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUser(t, s, newUser(t, "u1", "one@example.com"))
	createUser(t, s, newUser(t, "u2", "two@example.com"))
	createSP(t, s, newSP(t, "a", "urn:a"))
	createSP(t, s, newSP(t, "b", "urn:b"))
	for _, u := range []string{"u1", "u2"} {
		for _, p := range []string{"a", "b"} {
			noErr(t, s.AssignUser(ctx, u, p), "AssignUser "+u+" "+p)
		}
	}

	noErr(t, s.DeleteServiceProvider(ctx, "a"), "DeleteServiceProvider")
	names, err := s.Assignments(ctx, "u2")
	noErr(t, err, "Assignments")
	same(t, "Assignments after the SP was deleted", names, []string{"b"})
	// A new SP of the same name starts without assignments.
	createSP(t, s, newSP(t, "a", "urn:a"))
	names, err = s.Assignments(ctx, "u2")
	noErr(t, err, "Assignments")
	same(t, "Assignments after the SP was recreated", names, []string{"b"})

	noErr(t, s.DeleteUser(ctx, "u1"), "DeleteUser")
	// A new user of the same ID starts without assignments.
	createUser(t, s, newUser(t, "u1", "one@example.com"))
	names, err = s.Assignments(ctx, "u1")
	noErr(t, err, "Assignments")
	same(t, "Assignments of a recreated user", names, nil)
	names, err = s.Assignments(ctx, "u2")
	noErr(t, err, "Assignments")
	same(t, "Assignments of another user", names, []string{"b"})
}
