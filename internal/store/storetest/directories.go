package storetest

import (
	"errors"
	"reflect"
	"testing"

	"github.com/flexidp/flexidp/internal/store"
)

func testDirectories(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := store.Directory{Name: "corp", Kind: "ldap", Config: `{"urls":["ldaps://dc1"]}`, Secret: []byte("sealed:xyz"),
		Domains: []string{"acme.com", "acme.co.uk"}}
	if err := s.CreateDirectory(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateDirectory(ctx, d); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateDirectory of a taken name: %v, want ErrConflict", err)
	}
	if err := s.CreateDirectory(ctx, store.Directory{Name: "b-first", Kind: "ldap", Config: "{}"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetDirectory(ctx, "corp")
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedAt.IsZero() || got.UpdatedAt.IsZero() {
		t.Errorf("timestamps not set: %+v", got)
	}
	d.CreatedAt, d.UpdatedAt = got.CreatedAt, got.UpdatedAt
	if !reflect.DeepEqual(got, d) {
		t.Errorf("GetDirectory = %+v\nwant %+v", got, d)
	}
	list, err := s.ListDirectories(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "b-first" || list[1].Name != "corp" || list[0].Secret != nil || list[0].Domains != nil {
		t.Fatalf("ListDirectories = %+v, %v", list, err)
	}
	up, err := s.UpdateDirectory(ctx, "corp", func(d store.Directory) (store.Directory, error) {
		d.Domains = nil
		d.Secret = []byte("new")
		return d, nil
	})
	if err != nil || up.Domains != nil || string(up.Secret) != "new" {
		t.Fatalf("UpdateDirectory = %+v, %v", up, err)
	}
	if _, err := s.UpdateDirectory(ctx, "none", func(d store.Directory) (store.Directory, error) { return d, nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateDirectory of a missing source: %v", err)
	}
	if _, err := s.GetDirectory(ctx, "none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetDirectory of a missing source: %v", err)
	}

	createUser(t, s, newUser(t, "u1", "a@example.com"))
	createUser(t, s, newUser(t, "u2", "b@example.com"))
	l := store.DirectoryLink{UserID: "u1", Directory: "corp", ExternalID: "cn=a,dc=acme"}
	if err := s.LinkUser(ctx, l); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		l    store.DirectoryLink
		want error
	}{
		{"user linked already", store.DirectoryLink{UserID: "u1", Directory: "b-first", ExternalID: "x"}, store.ErrConflict},
		{"entry linked to another user", store.DirectoryLink{UserID: "u2", Directory: "corp", ExternalID: "cn=a,dc=acme"}, store.ErrConflict},
		{"no such user", store.DirectoryLink{UserID: "nobody", Directory: "corp", ExternalID: "y"}, store.ErrNotFound},
		{"no such source", store.DirectoryLink{UserID: "u2", Directory: "none", ExternalID: "y"}, store.ErrNotFound},
	} {
		if err := s.LinkUser(ctx, tc.l); !errors.Is(err, tc.want) {
			t.Errorf("LinkUser, %s: %v, want %v", tc.name, err, tc.want)
		}
	}
	byUser, err := s.GetUserLink(ctx, "u1")
	if err != nil || byUser.ExternalID != l.ExternalID || byUser.Directory != "corp" || byUser.CreatedAt.IsZero() {
		t.Fatalf("GetUserLink = %+v, %v", byUser, err)
	}
	byEntry, err := s.GetLinkByExternalID(ctx, "corp", "cn=a,dc=acme")
	if err != nil || byEntry != byUser {
		t.Fatalf("GetLinkByExternalID = %+v, %v; want %+v", byEntry, err, byUser)
	}
	if _, err := s.GetUserLink(ctx, "u2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetUserLink of an unlinked user: %v", err)
	}
	if err := s.LinkUser(ctx, store.DirectoryLink{UserID: "u2", Directory: "b-first", ExternalID: "cn=b"}); err != nil {
		t.Fatal(err)
	}
	links, err := s.ListDirectoryLinks(ctx, "corp")
	if err != nil || len(links) != 1 || links[0] != byUser {
		t.Fatalf("ListDirectoryLinks(corp) = %+v, %v", links, err)
	}
	if links, err := s.ListDirectoryLinks(ctx, "none"); err != nil || len(links) != 0 {
		t.Fatalf("ListDirectoryLinks of a missing source = %+v, %v", links, err)
	}
	if err := s.DeleteDirectory(ctx, "b-first"); err != nil {
		t.Fatal(err)
	}
	// Removing the user removes its link; removing the source, the rest.
	if err := s.LinkUser(ctx, store.DirectoryLink{UserID: "u2", Directory: "corp", ExternalID: "cn=b,dc=acme"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "u2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetLinkByExternalID(ctx, "corp", "cn=b,dc=acme"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("link outlived its user: %v", err)
	}
	if err := s.DeleteDirectory(ctx, "corp"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUserLink(ctx, "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("link outlived its source: %v", err)
	}
	if _, err := s.GetUser(ctx, "u1"); err != nil {
		t.Fatalf("the user went with the source: %v", err)
	}
	if err := s.DeleteDirectory(ctx, "corp"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteDirectory twice: %v", err)
	}
}
