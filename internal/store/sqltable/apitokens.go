package sqltable

import (
	"time"

	"github.com/flexidp/flexidp/internal/store"
)

// APITokens is the api_tokens table.
var APITokens = Table[store.APIToken]{
	Noun: "API token",
	Name: "api_tokens",
	Cols: []string{"id", "name", "secret_hash", "scopes", "created_by", "created_at", "updated_at", "expires_at",
		"last_used_at", "revoked_at"},
	Fields: func(t *store.APIToken) []Field {
		return []Field{v(&t.ID), v(&t.Name), v(&t.SecretHash), {&t.Scopes, List}, v(&t.CreatedBy), tm(&t.CreatedAt),
			tm(&t.UpdatedAt), tm(&t.ExpiresAt), tm(&t.LastUsedAt), tm(&t.RevokedAt)}
	},
	Key:     func(t *store.APIToken) *string { return &t.ID },
	Created: func(t *store.APIToken) *time.Time { return &t.CreatedAt },
	Updated: func(t *store.APIToken) *time.Time { return &t.UpdatedAt },
}
