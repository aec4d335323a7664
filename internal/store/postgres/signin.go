package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/sqltable"
)

// byEmail selects the user with email $1 (users_email_lower_key).
const byEmail = `lower(u.email COLLATE "und-x-icu") = lower($1 COLLATE "und-x-icu")`

// signInFacts is GetSignInFacts' one statement: the user and its passkey
// count (part 0), its link (1), its second factor (2), its groups (3),
// and every source (4).
var signInFacts = sqltable.NewUnion(
	sqltable.Part{
		Cols:  append(sqltable.QualifiedCols("u", userRecord.Cols), "(SELECT count(*) FROM passkeys p WHERE p.user_id = u.id)"),
		Nulls: append(userRecord.Nulls(pgType), "NULL::bigint"),
		From:  "FROM users u WHERE " + byEmail,
	},
	sqltable.Part{
		Cols:  sqltable.QualifiedCols("l", linkRecord.Cols),
		Nulls: linkRecord.Nulls(pgType),
		From:  "FROM users u JOIN directory_links l ON l.user_id = u.id WHERE " + byEmail,
	},
	sqltable.Part{
		Cols:  sqltable.QualifiedCols("m", mfaRecord.Cols),
		Nulls: mfaRecord.Nulls(pgType),
		From:  "FROM users u JOIN mfa m ON m.user_id = u.id WHERE " + byEmail,
	},
	sqltable.Part{
		Cols:  sqltable.QualifiedCols("g", groupRecord.Cols),
		Nulls: groupRecord.Nulls(pgType),
		From:  "FROM users u JOIN group_members gm ON gm.user_id = u.id JOIN groups g ON g.id = gm.group_id WHERE " + byEmail,
		Order: `lower(g.name COLLATE "und-x-icu") COLLATE "C", g.id`,
	},
	sqltable.Part{
		Cols:  sqltable.QualifiedCols("d", directoryRecord.Cols),
		Nulls: directoryRecord.Nulls(pgType),
		From:  "FROM directories d",
		Order: `d.name COLLATE "C"`,
	},
)

// GetSignInFacts implements store.Store in one statement (signInFacts).
func (s *Store) GetSignInFacts(ctx context.Context, email string) (store.SignInFacts, error) {
	var f store.SignInFacts
	err := eachRow(ctx, s.pool, signInFacts.SQL, []any{email}, func(rows pgx.Rows) error {
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
