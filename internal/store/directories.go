package store

import (
	"time"

	"github.com/flexidp/flexidp/internal/users"
)

// Directory is an upstream source people sign in through (an LDAP or
// Active Directory server, later an OpenID provider), as an administrator
// configured it.
type Directory struct {
	// Name identifies the source; audit events it causes have the actor
	// "directory:" + Name.
	Name string
	// Kind is the protocol: "ldap".
	Kind string
	// Config is the source's settings as JSON, without the secret; the
	// store treats it as opaque.
	Config string
	// Secret is the bind password or client secret, sealed at rest when
	// an encryption key is configured; the store treats it as opaque.
	Secret []byte
	// Domains are the email domains this source signs in (per-domain
	// routing), lower-case.
	Domains   []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SignInFacts is what a password sign-in decides on, read in one
// statement (Store.GetSignInFacts).
type SignInFacts struct {
	// User is the user with the email; nil when there is none (and then
	// so are Link and MFA, and Passkeys and Groups are empty).
	User *users.User
	// Link is the user's directory link (GetUserLink); nil for a local
	// account.
	Link *DirectoryLink
	// MFA is the user's second factor, confirmed or not (GetMFA); nil for
	// none.
	MFA *MFA
	// Passkeys is how many passkeys the user has.
	Passkeys int
	// Groups are the user's groups, as UserGroups returns them.
	Groups []users.Group
	// Directories are every source, as ListDirectories returns them.
	Directories []Directory
}

// DirectoryLink ties a flexidp user to the directory entry that created
// them: only that entry signs the user in, and it keeps the user in step.
type DirectoryLink struct {
	UserID    string
	Directory string
	// ExternalID is the entry's stable identifier in the directory (an
	// LDAP entry's canonical DN).
	ExternalID string
	CreatedAt  time.Time
}
