package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/sqltable"
)

// signInFacts is GetSignInFacts' one statement: the user and its passkey
// count (part 0), its link (1), its second factor (2), its groups (3),
// and every source (4). ?1 is the email's key (users.email_key).
var signInFacts = sqltable.NewUnion(
	sqltable.Part{
		Cols:  append(sqltable.QualifiedCols("u", userRecord.Cols), "(SELECT count(*) FROM passkeys p WHERE p.user_id = u.id)"),
		Nulls: append(userRecord.Nulls(noType), "NULL"),
		From:  "FROM users u WHERE u.email_key = ?1",
	},
	sqltable.Part{
		Cols:  sqltable.QualifiedCols("l", linkRecord.Cols),
		Nulls: linkRecord.Nulls(noType),
		From:  "FROM users u JOIN directory_links l ON l.user_id = u.id WHERE u.email_key = ?1",
	},
	sqltable.Part{
		Cols:  sqltable.QualifiedCols("m", mfaRecord.Cols),
		Nulls: mfaRecord.Nulls(noType),
		From:  "FROM users u JOIN mfa m ON m.user_id = u.id WHERE u.email_key = ?1",
	},
	sqltable.Part{
		Cols:  sqltable.QualifiedCols("g", groupRecord.Cols),
		Nulls: groupRecord.Nulls(noType),
		From:  "FROM users u JOIN group_members gm ON gm.user_id = u.id JOIN groups g ON g.id = gm.group_id WHERE u.email_key = ?1",
		Order: "g.name_key, g.id",
	},
	sqltable.Part{
		Cols:  sqltable.QualifiedCols("d", directoryRecord.Cols),
		Nulls: directoryRecord.Nulls(noType),
		From:  "FROM directories d",
		Order: "d.name",
	},
)

// GetSignInFacts returns what a password sign-in decides on in one
// statement (signInFacts).
func (s *Store) GetSignInFacts(ctx context.Context, email string) (store.SignInFacts, error) {
	var f store.SignInFacts
	err := eachRow(ctx, s.r, signInFacts.SQL, []any{emailKey(email)}, func(rows *sql.Rows) error {
		part, err := signInFacts.Which(rows.Scan, skip)
		if err != nil {
			return err
		}
		scan := signInFacts.Scan(rows.Scan, part, skip)
		switch part {
		case 0:
			var n int64
			u, err := userRecord.read(func(dest ...any) error { return scan(append(dest, &n)...) })
			f.User, f.Passkeys = &u, int(n)
			return err
		case 1:
			l, err := linkRecord.read(scan)
			f.Link = &l
			return err
		case 2:
			m, err := mfaRecord.read(scan)
			f.MFA = &m
			return err
		case 3:
			g, err := groupRecord.read(scan)
			f.Groups = append(f.Groups, g)
			return err
		case 4:
			d, err := directoryRecord.read(scan)
			f.Directories = append(f.Directories, d)
			return err
		}
		return fmt.Errorf("sign-in facts: a row of part %d", part)
	})
	if err != nil {
		return store.SignInFacts{}, wrap("get sign-in facts", err)
	}
	return f, nil
}
