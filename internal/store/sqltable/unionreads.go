package sqltable

import (
	"fmt"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// Reader reads one record from a row's columns with scan.
type Reader[T any] func(scan func(dest ...any) error) (T, error)

// SignInFactsReaders are a backend's readers of the records in the
// sign-in facts union (GetSignInFacts): the user followed by its passkey
// count (part 0), its directory link (1), its second factor (2), one of
// its groups (3), one source (4).
type SignInFactsReaders struct {
	User      Reader[users.User]
	Link      Reader[store.DirectoryLink]
	MFA       Reader[store.MFA]
	Group     Reader[users.Group]
	Directory Reader[store.Directory]
}

// AddSignInFact reads one row of u, the sign-in facts union, into f.
func (u *Union) AddSignInFact(f *store.SignInFacts, scan func(dest ...any) error, skip func() any, r SignInFactsReaders) error {
	part, err := u.Which(scan, skip)
	if err != nil {
		return err
	}
	scan = u.Scan(scan, part, skip)
	switch part {
	case 0:
		var n int64
		us, err := r.User(func(dest ...any) error { return scan(append(dest, &n)...) })
		f.User, f.Passkeys = &us, int(n)
		return err
	case 1:
		l, err := r.Link(scan)
		f.Link = &l
		return err
	case 2:
		m, err := r.MFA(scan)
		f.MFA = &m
		return err
	case 3:
		g, err := r.Group(scan)
		f.Groups = append(f.Groups, g)
		return err
	case 4:
		d, err := r.Directory(scan)
		f.Directories = append(f.Directories, d)
		return err
	}
	return fmt.Errorf("sign-in facts: a row of part %d", part)
}

// SessionUserReaders are a backend's readers of the records in the
// session-and-user union (GetSessionUser): the session joined with its
// user, followed by the session's stamp (part 0), then one of the user's
// groups per row (part 1).
type SessionUserReaders struct {
	Session Reader[store.Session]
	User    Reader[users.User]
	Group   Reader[users.Group]
}

// SessionUser is what GetSessionUser's rows add up to; Found is false
// when no row named the session.
type SessionUser struct {
	Session store.Session
	User    users.User
	Groups  []users.Group
	Found   bool
}

// AddSessionUser reads one row of u, the session-and-user union, into su.
func (u *Union) AddSessionUser(su *SessionUser, scan func(dest ...any) error, skip func() any, r SessionUserReaders) error {
	part, err := u.Which(scan, skip)
	if err != nil {
		return err
	}
	scan = u.Scan(scan, part, skip)
	if part == 0 {
		su.Found = true
		var stamp int64
		su.Session, su.User, err = ReadJoined(r.Session, r.User, func(dest ...any) error { return scan(append(dest, &stamp)...) })
		su.Session.Stamp = stamp
		return err
	}
	g, err := r.Group(scan)
	su.Groups = append(su.Groups, g)
	return err
}
