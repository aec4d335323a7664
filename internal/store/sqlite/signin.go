package sqlite

import (
	"context"
	"database/sql"

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
