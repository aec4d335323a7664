// Package store defines the persistence interface of flexidp, the errors
// every backend returns, and the plain records that are not domain types.
// Backends live in subpackages (postgres, sqlite); the conformance suite
// that every backend must pass lives in storetest.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/users"
)

// Errors every backend returns (possibly wrapped: test with errors.Is).
// Callers never see driver errors for these conditions.
var (
	// ErrNotFound: the record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique value (email, SP name or entity ID, request ID,
	// active key) is already taken.
	ErrConflict = errors.New("already exists")
	// ErrLastOwner: the change would leave no enabled console owner
	// (users.ConsoleOwner, not disabled) where there was one.
	ErrLastOwner = errors.New("last enabled console owner")
	// ErrChanged: a record the write depends on changed (or went) since
	// it was read (store.Visit.SP).
	ErrChanged = errors.New("changed since it was read")
)

// SPRef names a service provider by Name or, when Name is empty, by
// EntityID.
type SPRef struct {
	Name, EntityID string
}

// SPVersion is a service provider as read at one version (see
// Store.GetServiceProviderVersion).
type SPVersion struct {
	Name    string
	Version int64
}

// RemovesOwner reports whether changing old into next (nil: deleting it)
// takes an enabled console owner away: the changes UpdateUser and
// DeleteUser refuse with ErrLastOwner when no other enabled owner exists.
func RemovesOwner(old users.User, next *users.User) bool {
	enabledOwner := func(u users.User) bool { return u.ConsoleRole == users.ConsoleOwner && !u.Disabled }
	return enabledOwner(old) && (next == nil || !enabledOwner(*next))
}

// Session is an IdP browser session. The browser holds a random token; the
// store holds only its hash (ID), so a stolen database does not yield
// usable session cookies.
type Session struct {
	// ID is the hex SHA-256 of the cookie token.
	ID     string
	UserID string
	// Index is the SessionIndex sent to SPs; random, distinct from ID.
	Index        string
	AuthnInstant time.Time
	CreatedAt    time.Time
	LastSeenAt   time.Time
	// ExpiresAt is the absolute end of the session.
	ExpiresAt  time.Time
	RemoteAddr string
	UserAgent  string
	// SecondFactor is how the user proved a second factor in this session
	// ("totp", "recovery code", later "passkey"); "" for a password-only
	// session. The admin console accepts only a session that has one.
	SecondFactor string
	// VerifiedAt is when the user last proved who they are in this session
	// (the sign-in, or a re-verification for a sensitive console action);
	// zero for a password-only session.
	VerifiedAt time.Time
	// Stamp moves whenever anything a Response is built from changes: the
	// session (but LastSeenAt), its user, the user's memberships and their
	// groups (database triggers). Only GetSessionUser sets it; it is what
	// Visit.Session commits with.
	Stamp int64
}

// Version is what a Response built from a session kept in memory commits
// with (Visit.Session).
func (s Session) Version() *SessionVersion { return &SessionVersion{ID: s.ID, Stamp: s.Stamp} }

// SessionVersion names a session as read: its ID and Stamp.
type SessionVersion struct {
	ID    string
	Stamp int64
}

// Once is a replay record: Key (an AuthnRequest ID with its issuer) is
// used until ExpiresAt (see ConsumeOnce).
type Once struct {
	Key       string
	ExpiresAt time.Time
}

// Visit is what answering a browser writes, all of it or nothing, in one
// transaction: on PostgreSQL one statement, so one round trip and one
// commit. An SSO Response within a session consumes the request's replay
// record, touches the session and records the Response; a sign-in also
// ends the browser's previous session, starts the new one and records the
// sign-in. Zero fields write nothing.
type Visit struct {
	// Once is consumed as ConsumeOnce does it; when it is recorded and not
	// yet expired, nothing of the visit is written (ErrConflict).
	Once *Once
	// EndSession is the ID of a session to delete (the browser's previous
	// one); a session that is already gone is no error.
	EndSession string
	// StartSession is a session to create; ErrConflict, and nothing
	// written, if its ID is taken.
	StartSession *Session
	// TouchSession is the ID of a session whose LastSeenAt becomes
	// TouchAt; a session that is already gone is no error.
	TouchSession string
	TouchAt      time.Time
	// Audit are appended in order (a zero Time is set to now).
	Audit []AuditEvent
	// SP, when set, is the service provider the Response was built from,
	// as read: if it changed or went since, nothing is written
	// (ErrChanged), so a copy kept in memory is never used once stale.
	SP *SPVersion
	// Session, when set, is the session (with its user and groups) the
	// Response was built from, as read: if its stamp moved or it went
	// since, nothing is written (ErrChanged), as for SP.
	Session *SessionVersion
}

// KeyState is the life-cycle state of a signing key.
type KeyState string

// Key states. Exactly zero or one key is active at any time.
const (
	KeyActive  KeyState = "active"  // signs Responses, published in metadata
	KeyNext    KeyState = "next"    // published in metadata, not yet signing
	KeyRetired KeyState = "retired" // kept for the record, not published
)

// SigningKey is an IdP signing key pair.
type SigningKey struct {
	ID string
	// PrivateKey is the PEM (PKCS#8) private key, or its encrypted form
	// when an encryption key is configured; the store treats it as opaque.
	PrivateKey []byte
	// CertificatePEM is the self-signed X.509 certificate, PEM encoded.
	CertificatePEM []byte
	State          KeyState
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// UserFilter narrows ListUsers and CountUsers. The zero value lists
// everyone; the conditions that are set must all hold.
type UserFilter struct {
	// Query matches a substring of email or full name, case-insensitively.
	Query string
	// Role keeps the users that have exactly this Flex role among theirs.
	Role string
	// NoRole keeps the users without any Flex role (Flex refuses them).
	NoRole bool
	// Team keeps the users whose team is exactly this.
	Team string
	// Disabled keeps only disabled users (true) or only enabled ones
	// (false); nil keeps both.
	Disabled *bool
	// After starts the list after this position (keyset paging); the zero
	// UserCursor starts at the beginning. CountUsers ignores it.
	After UserCursor
	// Limit caps the result; 0 means no limit. CountUsers ignores it.
	Limit int
	// ExternalID keeps the users with exactly this external ID (SCIM
	// externalId), when set.
	ExternalID string
}

// UserCursor is a position in ListUsers' order (case-folded email, then
// ID). The next page of a list starts after the cursor of its last user,
// CursorOf(last); a cursor stays valid when that user changes or goes.
type UserCursor struct {
	// Email is the email (or its case-folded key: folding is idempotent).
	Email string
	ID    string
}

// IsZero reports whether c is the start of the list.
func (c UserCursor) IsZero() bool { return c == UserCursor{} }

// CursorOf returns the position of u in ListUsers' order.
func CursorOf(u users.User) UserCursor { return UserCursor{Email: u.Email, ID: u.ID} }

// SettingBaseURL names the setting that holds the external base URL the
// IdP last ran with (idp serve, idp dev), so that CLI commands printing
// links and URLs agree with the running server.
const SettingBaseURL = "base_url"

// Store is the persistence interface. All methods are safe for concurrent
// use, take a context first, and return ErrNotFound / ErrConflict (wrapped
// or not) for those conditions. Returned slices are never shared with the
// store. Timestamps are returned in UTC, truncated to microseconds.
type Store interface {
	APITokenStore

	// CreateUser stores a new user. u.ID must be set by the caller;
	// CreatedAt/UpdatedAt are set by the store when zero. ErrConflict if
	// the ID or the email (case-insensitively) is taken.
	CreateUser(ctx context.Context, u users.User) error
	// GetUser returns the user with that ID.
	GetUser(ctx context.Context, id string) (users.User, error)
	// GetUserByEmail finds a user by email, case-insensitively.
	GetUserByEmail(ctx context.Context, email string) (users.User, error)
	// ListUsers returns the users matching f, ordered by case-folded email
	// then ID, starting after f.After, at most f.Limit of them.
	ListUsers(ctx context.Context, f UserFilter) ([]users.User, error)
	// CountUsers returns how many users match f, ignoring f.After and
	// f.Limit.
	CountUsers(ctx context.Context, f UserFilter) (int, error)
	// UpdateUser runs update on the current user inside one transaction and
	// stores the result: read-modify-write is atomic. The updater must not
	// change ID or CreatedAt; UpdatedAt is set by the store. If update
	// returns an error, nothing is written and that error is returned
	// as is. ErrConflict if the new email is taken by another user.
	// ErrLastOwner, and nothing written, if the user is the last enabled
	// console owner and the update demotes or disables them: the check and
	// the write are one transaction, serialised with every other such
	// change, so that concurrent callers (other processes, replicas) cannot
	// each count the other as the owner who remains.
	UpdateUser(ctx context.Context, id string, update func(users.User) (users.User, error)) (users.User, error)
	// DeleteUser removes the user, its sessions and SP assignments.
	// ErrLastOwner, and nothing removed, if the user is the last enabled
	// console owner (checked as UpdateUser does).
	DeleteUser(ctx context.Context, id string) error
	// ImportUsers upserts us by email, case-insensitively, in one
	// transaction: all are written or none. MergeImport says what an
	// existing user keeps; a user whose stored fields would not change is
	// not written and counts as Unchanged. New users must carry an ID.
	// ErrConflict if two of us share an email or a new user's ID is taken.
	// WithImportProgress observes the progress.
	ImportUsers(ctx context.Context, us []users.User) (ImportResult, error)

	// CreateServiceProvider stores a new SP. ErrConflict if its Name or
	// EntityID is taken.
	CreateServiceProvider(ctx context.Context, s sp.ServiceProvider) error
	// GetServiceProvider returns the SP with that Name.
	GetServiceProvider(ctx context.Context, name string) (sp.ServiceProvider, error)
	// GetServiceProviderByEntityID returns the SP with that entity ID
	// (exact, case-sensitive match, as SAML compares identifiers).
	GetServiceProviderByEntityID(ctx context.Context, entityID string) (sp.ServiceProvider, error)
	// GetServiceProviderVersion returns the SP ref names and its version: a
	// number that changes on every write of it, by any process, and is
	// never used twice (a deleted and re-created SP has a new one).
	GetServiceProviderVersion(ctx context.Context, ref SPRef) (sp.ServiceProvider, int64, error)
	// ListServiceProviders returns all SPs ordered by Name.
	ListServiceProviders(ctx context.Context) ([]sp.ServiceProvider, error)
	// UpdateServiceProvider is UpdateUser's counterpart for SPs; Name must
	// not change.
	UpdateServiceProvider(ctx context.Context, name string, update func(sp.ServiceProvider) (sp.ServiceProvider, error)) (sp.ServiceProvider, error)
	// DeleteServiceProvider removes the SP and its assignments.
	DeleteServiceProvider(ctx context.Context, name string) error

	// AssignUser lets the user enter the SP (see sp.AssignmentRequired).
	// Idempotent. ErrNotFound if the user or the SP does not exist.
	AssignUser(ctx context.Context, userID, spName string) error
	// UnassignUser removes the assignment; ErrNotFound if there was none.
	UnassignUser(ctx context.Context, userID, spName string) error
	// Assignments returns the names of the SPs the user is assigned to,
	// ordered by name.
	Assignments(ctx context.Context, userID string) ([]string, error)
	// Assignees returns the IDs of at most limit users assigned to the
	// SP, ordered by ID (0: no limit).
	Assignees(ctx context.Context, spName string, limit int) ([]string, error)

	// CreateGroup stores a new group. g.ID must be set by the caller;
	// CreatedAt/UpdatedAt are set by the store when zero. ErrConflict if
	// the ID, the name (case-insensitively) or a non-empty ExternalID is
	// taken.
	CreateGroup(ctx context.Context, g users.Group) error
	// GetGroup returns the group with that ID.
	GetGroup(ctx context.Context, id string) (users.Group, error)
	// GetGroupByName finds a group by name, case-insensitively.
	GetGroupByName(ctx context.Context, name string) (users.Group, error)
	// GetGroupByExternalID finds a group by its (non-empty) ExternalID,
	// exactly.
	GetGroupByExternalID(ctx context.Context, externalID string) (users.Group, error)
	// ListGroups returns every group, ordered by case-folded name.
	ListGroups(ctx context.Context) ([]users.Group, error)
	// UpdateGroup is UpdateUser's counterpart for groups; ID must not
	// change. ErrConflict if the new name or ExternalID is taken.
	UpdateGroup(ctx context.Context, id string, update func(users.Group) (users.Group, error)) (users.Group, error)
	// DeleteGroup removes the group and its memberships.
	DeleteGroup(ctx context.Context, id string) error
	// AddGroupMembers makes the users members of the group, in one
	// transaction. Idempotent. ErrNotFound, and nothing added, if the
	// group or one of the users does not exist.
	AddGroupMembers(ctx context.Context, groupID string, userIDs ...string) error
	// RemoveGroupMembers ends the users' membership of the group, in one
	// statement. Idempotent: a user who is not a member is no error.
	RemoveGroupMembers(ctx context.Context, groupID string, userIDs ...string) error
	// GroupMembers returns the members of the group, ordered as ListUsers
	// orders users; in one query.
	GroupMembers(ctx context.Context, groupID string) ([]users.User, error)
	// UserGroups returns the groups the user is a member of, ordered by
	// case-folded name, in one query (a sign-in asks it once, however
	// many groups there are).
	UserGroups(ctx context.Context, userID string) ([]users.Group, error)
	// MembersGroups returns, for every member of the group (by user ID),
	// all the groups that member belongs to, in one query: what a change
	// of the group must check for each member.
	MembersGroups(ctx context.Context, groupID string) (map[string][]users.Group, error)

	// CreateSession stores a new session. ErrConflict if the ID is taken.
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the session with that ID, whether or not it has
	// expired (the caller decides).
	GetSession(ctx context.Context, id string) (Session, error)
	// GetSessionUser returns the session with that ID, whether or not it
	// has expired, its user and the user's groups (as UserGroups returns
	// them), read together in one statement: what every request of a
	// signed-in browser needs first, and what an SSO Response releases.
	// ErrNotFound if there is no such session.
	GetSessionUser(ctx context.Context, id string) (Session, users.User, []users.Group, error)
	// TouchSession sets LastSeenAt.
	TouchSession(ctx context.Context, id string, at time.Time) error
	// VerifySession records that the session's user proved who they are
	// again at at (VerifiedAt). ErrNotFound if the session does not exist.
	VerifySession(ctx context.Context, id string, at time.Time) error
	// ListSessions returns the user's sessions, newest first.
	ListSessions(ctx context.Context, userID string) ([]Session, error)
	// DeleteSession removes one session; ErrNotFound if it does not exist.
	DeleteSession(ctx context.Context, id string) error
	// DeleteUserSessions removes every session of the user and returns how
	// many there were.
	DeleteUserSessions(ctx context.Context, userID string) (int, error)
	// DeleteOtherSessions removes every session of the user except keepID,
	// in one statement (a session started meanwhile is not missed), and
	// returns how many there were.
	DeleteOtherSessions(ctx context.Context, userID, keepID string) (int, error)
	// DeleteExpiredSessions removes sessions with ExpiresAt <= now and
	// returns how many.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)

	// ConsumeOnce records key (e.g. an AuthnRequest ID with its issuer) as
	// used until expiresAt. ErrConflict if the key is recorded and not yet
	// expired; an expired record is replaced. Atomic across replicas.
	ConsumeOnce(ctx context.Context, key string, expiresAt time.Time) error
	// RecordVisit writes v atomically (see Visit): ErrConflict, and
	// nothing written, if v.Once is in use or v.StartSession's ID is
	// taken; ErrChanged, and nothing written, if v.SP is no longer
	// current. Of concurrent visits with the same Once, on any replica,
	// exactly one is written.
	RecordVisit(ctx context.Context, v Visit) error

	// UpdateThrottle runs update on the throttle record of key (a zero
	// Throttle with that Key when there is none) inside one transaction
	// and stores the result, so that concurrent attempts on any replica
	// are counted one after the other. update runs once the record is
	// locked, so a clock it reads is not earlier than the last write. An
	// Empty result removes the record. A DeleteThrottle at the same time
	// happens wholly before or after: UpdateThrottle never fails for want
	// of a record. If update returns an error, nothing is written and
	// that error is returned as is.
	UpdateThrottle(ctx context.Context, key string, update func(Throttle) (Throttle, error)) (Throttle, error)
	// GetThrottle returns the throttle record of key.
	GetThrottle(ctx context.Context, key string) (Throttle, error)
	// DeleteThrottle forgets key (an unlock, a new password);
	// ErrNotFound if there was no record.
	DeleteThrottle(ctx context.Context, key string) error
	// DeleteStaleThrottles removes the records whose LastFailure,
	// LockedUntil and LastAttempt are all before t, and returns how many.
	DeleteStaleThrottles(ctx context.Context, t time.Time) (int, error)

	// AppendAudit stores e and returns it as stored: with its ID, and its
	// Time set to now when zero.
	AppendAudit(ctx context.Context, e AuditEvent) (AuditEvent, error)
	// ListAudit returns the events matching f, newest (highest ID) first.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
	// CountAudit returns how many events match f, ignoring f.Limit.
	CountAudit(ctx context.Context, f AuditFilter) (int, error)

	// PutMFA stores m as the user's second factor, replacing a pending
	// (unconfirmed) one; zero CreatedAt and UpdatedAt are set to now.
	// ErrConflict if the user has a confirmed one (of two enrolments
	// confirmed at once, one wins; reset-mfa deletes it first), ErrNotFound
	// if the user does not exist.
	PutMFA(ctx context.Context, m MFA) error
	// GetMFA returns the user's second factor.
	GetMFA(ctx context.Context, userID string) (MFA, error)
	// UpdateMFA is UpdateUser's counterpart for second factors (using up a
	// recovery code is atomic); UserID must not change.
	UpdateMFA(ctx context.Context, userID string, update func(MFA) (MFA, error)) (MFA, error)
	// DeleteMFA removes the user's second factor; ErrNotFound if none.
	DeleteMFA(ctx context.Context, userID string) error

	// CreatePasskey stores a new passkey; zero CreatedAt and UpdatedAt are
	// set to now. ErrConflict if its ID is taken (by any user),
	// ErrNotFound if the user does not exist.
	CreatePasskey(ctx context.Context, p Passkey) error
	// ListPasskeys returns the user's passkeys, oldest first.
	ListPasskeys(ctx context.Context, userID string) ([]Passkey, error)
	// UpdatePasskey is UpdateUser's counterpart for passkeys (a sign-in
	// records the signature counter atomically); ID and UserID must not
	// change.
	UpdatePasskey(ctx context.Context, id string, update func(Passkey) (Passkey, error)) (Passkey, error)
	// DeletePasskey removes the user's passkey with that ID; ErrNotFound
	// if the user has none with that ID.
	DeletePasskey(ctx context.Context, userID, id string) error
	// DeleteUserPasskeys removes every passkey of the user and returns how
	// many there were.
	DeleteUserPasskeys(ctx context.Context, userID string) (int, error)

	// CreateToken stores a password link token; a zero CreatedAt is set
	// to now. ErrConflict if the ID is taken, ErrNotFound if the user
	// does not exist. Tokens that have expired are removed on the way.
	CreateToken(ctx context.Context, t Token) error
	// GetToken returns the token with that ID, whether or not it has
	// expired (the caller decides).
	GetToken(ctx context.Context, id string) (Token, error)
	// ConsumeToken removes the token with that ID and every other token of
	// the same user, in one transaction, and returns it: of concurrent
	// callers exactly one succeeds. ErrNotFound if there is no such token
	// or it expired at or before now.
	ConsumeToken(ctx context.Context, id string, now time.Time) (Token, error)

	// CreateSigningKey stores a key. ErrConflict if k.State is KeyActive
	// and another key is already active, or the ID is taken: two replicas
	// racing to create the first key cannot both win.
	CreateSigningKey(ctx context.Context, k SigningKey) error
	// ListSigningKeys returns all keys, oldest first.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// SetSigningKeyState changes a key's state. Making a key active retires
	// the previously active one in the same transaction.
	SetSigningKeyState(ctx context.Context, id string, state KeyState) error

	// PutSetting stores value under name (SettingBaseURL, …), replacing
	// any previous value.
	PutSetting(ctx context.Context, name, value string) error
	// GetSetting returns the value stored under name; ErrNotFound if none.
	GetSetting(ctx context.Context, name string) (string, error)

	// CreateDirectory stores a new upstream source; zero CreatedAt and
	// UpdatedAt are set to now. ErrConflict if the name is taken.
	CreateDirectory(ctx context.Context, d Directory) error
	// GetDirectory returns the source with that name.
	GetDirectory(ctx context.Context, name string) (Directory, error)
	// ListDirectories returns every source, ordered by name.
	ListDirectories(ctx context.Context) ([]Directory, error)
	// UpdateDirectory is UpdateUser's counterpart for sources; Name must
	// not change.
	UpdateDirectory(ctx context.Context, name string, update func(Directory) (Directory, error)) (Directory, error)
	// DeleteDirectory removes the source and its links (the users stay).
	DeleteDirectory(ctx context.Context, name string) error
	// LinkUser records that l.UserID came from l.ExternalID in
	// l.Directory; a zero CreatedAt is set to now. ErrConflict if the
	// user is linked already or the entry is linked to another user,
	// ErrNotFound if the user or the source does not exist.
	LinkUser(ctx context.Context, l DirectoryLink) error
	// GetUserLink returns the link of the user.
	GetUserLink(ctx context.Context, userID string) (DirectoryLink, error)
	// ListDirectoryLinks returns the links of the directory, ordered by
	// user ID.
	ListDirectoryLinks(ctx context.Context, directory string) ([]DirectoryLink, error)
	// GetLinkByExternalID returns the link of the directory's entry.
	GetLinkByExternalID(ctx context.Context, directory, externalID string) (DirectoryLink, error)

	// GetSignInFacts returns, in one statement, what a password sign-in
	// with that email decides on (SignInFacts): the user with that email
	// as GetUserByEmail finds it, if any, with its link, second factor,
	// passkey count and groups, and every source. No user is no error: the
	// facts then have a nil User, and the same statement ran.
	GetSignInFacts(ctx context.Context, email string) (SignInFacts, error)

	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}
