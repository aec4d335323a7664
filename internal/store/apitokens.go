package store

import (
	"context"
	"time"
)

// APIToken is a credential of a program (a provisioning connector, a
// script) for the SCIM server and the admin API. The program holds
// "fidp_<ID>_<secret>"; the store holds only the hex SHA-256 of the secret,
// so a stolen database does not yield usable tokens.
type APIToken struct {
	// ID is public and random; it names the token in the bearer string and
	// in the store.
	ID string
	// Name is unique; it is the actor of every change made with the token.
	Name string
	// SecretHash is the hex SHA-256 of the secret.
	SecretHash string
	// Scopes are what the token may do ("scim", "users:read", ...).
	Scopes    []string
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
	// ExpiresAt is when the token stops working.
	ExpiresAt time.Time
	// LastUsedAt is when it last authenticated a request, to a minute;
	// zero if never.
	LastUsedAt time.Time
	// RevokedAt is when it was revoked; zero while it is not.
	RevokedAt time.Time
}

// APITokenStore keeps API tokens; part of Store.
type APITokenStore interface {
	// CreateAPIToken stores a new token; zero CreatedAt and UpdatedAt are
	// set to now. ErrConflict if the ID or the Name is taken.
	CreateAPIToken(ctx context.Context, t APIToken) error
	// GetAPIToken returns the token with that ID, revoked or expired or not
	// (the caller decides).
	GetAPIToken(ctx context.Context, id string) (APIToken, error)
	// ListAPITokens returns every token ordered by name.
	ListAPITokens(ctx context.Context) ([]APIToken, error)
	// UpdateAPIToken is UpdateUser's counterpart for tokens; ID must not
	// change.
	UpdateAPIToken(ctx context.Context, id string, update func(APIToken) (APIToken, error)) (APIToken, error)
}
