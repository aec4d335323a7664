package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// progressEvery is how many users are written between progress reports.
const progressEvery = 1000

// ImportUsers upserts us by email in one IMMEDIATE transaction with
// prepared statements: one indexed lookup per user, then an INSERT, an
// UPDATE or nothing (store.MergeImport decides).
func (s *Store) ImportUsers(ctx context.Context, us []users.User) (store.ImportResult, error) {
	var res store.ImportResult
	if err := store.CheckImportEmails(us); err != nil {
		return res, err
	}
	report := store.ImportProgress(ctx)
	now := s.nowUTC()
	err := s.write(ctx, func(tx *txn) error {
		get, err := tx.PrepareContext(ctx, userRecord.selectSQL+` WHERE email_key = ?`)
		if err != nil {
			return err
		}
		defer get.Close()
		insert, err := tx.PrepareContext(ctx, userRecord.insertSQL)
		if err != nil {
			return err
		}
		defer insert.Close()
		update, err := tx.PrepareContext(ctx, userRecord.updateSQL)
		if err != nil {
			return err
		}
		defer update.Close()

		for i, u := range us {
			if i%progressEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
				report(i, len(us))
			}
			old, err := userRecord.scan(get.QueryRowContext(ctx, emailKey(u.Email)))
			found := err == nil
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return wrap("import user "+u.Email, err)
			}
			u, write, err := res.Add(old, found, u, now)
			if err != nil {
				return err
			}
			if !write {
				continue
			}
			args, err := userRecord.args(&u)
			if err == nil && found {
				_, err = update.ExecContext(ctx, append(args, u.ID)...) // the key is last
			} else if err == nil {
				_, err = insert.ExecContext(ctx, args...)
			}
			if err != nil {
				return wrap("import user "+u.Email, err)
			}
		}
		report(len(us), len(us))
		return nil
	})
	if err != nil {
		return store.ImportResult{}, err
	}
	return res, nil
}
