package postgres

import (
	"context"

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
		return signInFacts.AddSignInFact(&f, rows.Scan, skip, signInReaders)
	})
	if err != nil {
		return store.SignInFacts{}, wrap("get sign-in facts", err)
	}
	return f, nil
}

// signInReaders read the records of the sign-in facts union.
var signInReaders = sqltable.SignInFactsReaders{User: userRecord.read, Link: linkRecord.read, MFA: mfaRecord.read,
	Group: groupRecord.read, Directory: directoryRecord.read}
