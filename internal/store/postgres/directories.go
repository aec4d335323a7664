package postgres

import (
	"context"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/sqltable"
)

var (
	directoryRecord = newRecord(sqltable.Directories, `name COLLATE "C"`)
	linkRecord      = newRecord(sqltable.DirectoryLinks, "user_id")
)

// CreateDirectory implements store.Store.
func (s *Store) CreateDirectory(ctx context.Context, d store.Directory) error {
	return directoryRecord.create(ctx, s, d)
}

// GetDirectory implements store.Store.
func (s *Store) GetDirectory(ctx context.Context, name string) (store.Directory, error) {
	d, err := directoryRecord.get(ctx, s.pool, "name = $1", name)
	return d, wrap("get directory", err)
}

// ListDirectories implements store.Store.
func (s *Store) ListDirectories(ctx context.Context) ([]store.Directory, error) {
	return directoryRecord.list(ctx, s, "list directories", "", "")
}

// UpdateDirectory implements store.Store.
func (s *Store) UpdateDirectory(ctx context.Context, name string, update func(store.Directory) (store.Directory, error)) (store.Directory, error) {
	return directoryRecord.update(ctx, s, name, update)
}

// DeleteDirectory implements store.Store; its links go with it (ON DELETE
// CASCADE).
func (s *Store) DeleteDirectory(ctx context.Context, name string) error {
	return directoryRecord.delete(ctx, s, name)
}

// LinkUser implements store.Store.
func (s *Store) LinkUser(ctx context.Context, l store.DirectoryLink) error {
	return linkRecord.create(ctx, s, l)
}

// GetUserLink implements store.Store.
func (s *Store) GetUserLink(ctx context.Context, userID string) (store.DirectoryLink, error) {
	l, err := linkRecord.get(ctx, s.pool, "user_id = $1", userID)
	return l, wrap("get directory link", err)
}

// ListDirectoryLinks implements store.Store.
func (s *Store) ListDirectoryLinks(ctx context.Context, directory string) ([]store.DirectoryLink, error) {
	return linkRecord.list(ctx, s, "list directory links", "WHERE directory = $1", "", directory)
}

// GetLinkByExternalID implements store.Store.
func (s *Store) GetLinkByExternalID(ctx context.Context, directory, externalID string) (store.DirectoryLink, error) {
	l, err := linkRecord.get(ctx, s.pool, "directory = $1 AND external_id = $2", directory, externalID)
	return l, wrap("get directory link", err)
}
