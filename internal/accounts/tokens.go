package accounts

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flexidp/flexidp/internal/store"
)

// Scope is what an API token may do.
type Scope string

// The scopes of API tokens.
const (
	// ScopeSCIM: the SCIM server (/scim/v2): users and groups, read and write.
	ScopeSCIM Scope = "scim"
	// ScopeUsersRead: read users and preview what they receive (/api/v1).
	ScopeUsersRead Scope = "users:read"
	// ScopeUsersWrite: change users through the admin API.
	ScopeUsersWrite Scope = "users:write"
	// ScopeSP: service providers and the list of signing keys (/api/v1).
	ScopeSP Scope = "sp"
	// ScopeAuditRead: search the audit trail (/api/v1).
	ScopeAuditRead Scope = "audit:read"
)

// Scopes lists every scope, in the order they are shown.
var Scopes = []Scope{ScopeSCIM, ScopeUsersRead, ScopeUsersWrite, ScopeSP, ScopeAuditRead}

// TokenPrefix begins every API token, so that secret scanners (and people)
// recognise one in a log, a commit or a chat.
const TokenPrefix = "fidp_"

// Token lifetimes.
const (
	// DefaultTokenTTL is the lifetime of a token when none is given.
	DefaultTokenTTL = 90 * 24 * time.Hour
	// MaxTokenTTL bounds a token's lifetime: a forgotten token stops by
	// itself.
	MaxTokenTTL = 2 * 366 * 24 * time.Hour
	// tokenTouchEvery is how stale LastUsedAt may be: a request writes it
	// at most once a minute per token, not on every request.
	tokenTouchEvery = time.Minute
)

const (
	tokenIDBytes     = 8
	tokenSecretBytes = 32 // 256 bits
)

var (
	tokenIDLen     = hex.EncodedLen(tokenIDBytes)
	tokenSecretLen = base64.RawURLEncoding.EncodedLen(tokenSecretBytes)
	// tokenName is compiled on first use, not at package init, which
	// every start pays (docs/performance.md, "Idle memory").
	tokenName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`) })
)

// ErrBadToken refuses a request whose API token is missing, malformed,
// unknown, wrong, expired or revoked. It says no more, on purpose: which of
// these it was is for the audit trail, not for the caller.
var ErrBadToken = &Error{Code: Unauthorized, Message: "The API token is missing or not valid."}

// NewToken is what CreateToken needs.
type NewToken struct {
	// Name is unique: letters, digits, '.', '_' and '-', up to 64.
	Name   string
	Scopes []Scope
	// TTL is the lifetime; 0 means DefaultTokenTTL.
	TTL time.Duration
}

// ParseScopes reads a comma-separated list of scopes ("scim,users:read").
func ParseScopes(list string) ([]Scope, error) {
	var out []Scope
	for _, f := range strings.Split(list, ",") {
		sc := Scope(strings.TrimSpace(f))
		if sc == "" {
			continue
		}
		if !slices.Contains(Scopes, sc) {
			return nil, errorf(Invalid, "%q is not a scope; the scopes are %s.", string(sc), scopeList())
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

func scopeList() string {
	names := make([]string, len(Scopes))
	for i, sc := range Scopes {
		names[i] = string(sc)
	}
	return strings.Join(names, ", ")
}

// CreateToken makes a new API token and returns it with its bearer string,
// which is shown once: the store keeps only the SHA-256 of its secret.
func (s *Service) CreateToken(ctx context.Context, actor Actor, n NewToken) (store.APIToken, string, error) {
	if !tokenName().MatchString(n.Name) {
		return store.APIToken{}, "", errorf(Invalid, "%q is not a token name: use letters, digits, '.', '_' and '-', up to 64, starting with a letter or digit.", n.Name)
	}
	if len(n.Scopes) == 0 {
		return store.APIToken{}, "", errorf(Invalid, "A token needs at least one scope: %s.", scopeList())
	}
	scopes := make([]string, 0, len(n.Scopes))
	for _, sc := range n.Scopes {
		if !slices.Contains(Scopes, sc) {
			return store.APIToken{}, "", errorf(Invalid, "%q is not a scope; the scopes are %s.", string(sc), scopeList())
		}
		if !slices.Contains(scopes, string(sc)) {
			scopes = append(scopes, string(sc))
		}
	}
	ttl := n.TTL
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	if ttl < time.Minute || ttl > MaxTokenTTL {
		return store.APIToken{}, "", errorf(Invalid, "A token must expire between one minute and %d days from now.", MaxTokenTTL/(24*time.Hour))
	}
	id, secret := make([]byte, tokenIDBytes), make([]byte, tokenSecretBytes)
	if _, err := io.ReadFull(s.rand, id); err != nil {
		return store.APIToken{}, "", fmt.Errorf("token ID: %w", err)
	}
	if _, err := io.ReadFull(s.rand, secret); err != nil {
		return store.APIToken{}, "", fmt.Errorf("token secret: %w", err)
	}
	sec := base64.RawURLEncoding.EncodeToString(secret)
	now := s.now()
	t := store.APIToken{ID: hex.EncodeToString(id), Name: n.Name, SecretHash: hashSecret(sec), Scopes: scopes,
		CreatedBy: actor.Name, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.st.CreateAPIToken(ctx, t); errors.Is(err, store.ErrConflict) {
		return store.APIToken{}, "", &Error{Code: Conflict, Message: fmt.Sprintf("A token named %s already exists.", n.Name), Err: err}
	} else if err != nil {
		return store.APIToken{}, "", err
	}
	return t, TokenPrefix + t.ID + "_" + sec, s.audit(ctx, actor, Change{Action: "token.create", After: TokenView(t)})
}

// ListTokens returns every API token (never a secret), ordered by name.
func (s *Service) ListTokens(ctx context.Context) ([]store.APIToken, error) {
	return s.st.ListAPITokens(ctx)
}

// RevokeToken stops the token named ref (its name or ID) from working.
// Revoking a revoked token changes nothing and is not an error.
func (s *Service) RevokeToken(ctx context.Context, actor Actor, ref string) (store.APIToken, error) {
	t, err := s.findToken(ctx, ref)
	if err != nil {
		return store.APIToken{}, err
	}
	if !t.RevokedAt.IsZero() {
		return t, nil
	}
	t, err = s.st.UpdateAPIToken(ctx, t.ID, func(cur store.APIToken) (store.APIToken, error) {
		if cur.RevokedAt.IsZero() {
			cur.RevokedAt = s.now()
		}
		return cur, nil
	})
	if err != nil {
		return store.APIToken{}, notFoundAs(err, "The token no longer exists.")
	}
	return t, s.audit(ctx, actor, Change{Action: "token.revoke", After: TokenView(t)})
}

func (s *Service) findToken(ctx context.Context, ref string) (store.APIToken, error) {
	if t, err := s.st.GetAPIToken(ctx, ref); err == nil {
		return t, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.APIToken{}, err
	}
	all, err := s.st.ListAPITokens(ctx)
	if err != nil {
		return store.APIToken{}, err
	}
	for _, t := range all {
		if t.Name == ref {
			return t, nil
		}
	}
	return store.APIToken{}, errorf(NotFound, "There is no API token named %q.", ref)
}

// TokenRule throttles the failed uses of one API token (a wrong secret
// with its ID), as AccountRule does for a password. It only reads the
// record on success, so a busy connector costs no write per request.
func (s *Service) TokenRule(id string) Rule {
	return Rule{"token:" + id, s.lockout.BackoffAfter, s.lockout.LockAfter, false}
}

// AuthenticateToken checks a bearer string under the throttle rules of the
// token and of the client address, and returns the token. It returns
// ErrBadToken (the same for every way a token can be wrong: the reason is
// in the audit trail), *ThrottledError, or an internal error. The token's
// LastUsedAt is written at most once a minute.
func (s *Service) AuthenticateToken(ctx context.Context, bearer, address string) (store.APIToken, error) {
	id, secret, wellFormed := splitToken(bearer)
	rules := []Rule{s.AddressRule(address)}
	if wellFormed {
		rules = append(rules, s.TokenRule(id))
	}
	attempt, err := s.Admit(ctx, rules...)
	if err != nil {
		return store.APIToken{}, err
	}
	t, reason, err := s.checkToken(ctx, id, secret, wellFormed)
	if err != nil {
		attempt.Refund(ctx)
		return store.APIToken{}, err
	}
	if reason != "" {
		attempt.Failed(ctx)
		_ = s.Audit(ctx, store.AuditEvent{Action: AuditTokenFailure, Actor: t.Name, RemoteAddr: address, Reason: reason})
		return store.APIToken{}, ErrBadToken
	}
	attempt.Succeeded(ctx)
	if s.now().Sub(t.LastUsedAt) >= tokenTouchEvery {
		if _, err := s.st.UpdateAPIToken(ctx, t.ID, func(cur store.APIToken) (store.APIToken, error) {
			if now := s.now(); now.Sub(cur.LastUsedAt) >= tokenTouchEvery {
				cur.LastUsedAt = now
			}
			return cur, nil
		}); err != nil {
			s.log.WarnContext(ctx, "record API token use", "token", t.Name, "err", err)
		}
	}
	return t, nil
}

// AuditTokenFailure is the audit action of a refused API token.
const AuditTokenFailure = "api.token.failure"

// checkToken returns the token and "" if it may be used, or why not.
func (s *Service) checkToken(ctx context.Context, id, secret string, wellFormed bool) (store.APIToken, string, error) {
	if !wellFormed {
		return store.APIToken{}, "malformed token", nil
	}
	t, err := s.st.GetAPIToken(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		// Compare anyway, so an unknown ID takes as long as a wrong secret.
		subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(strings.Repeat("0", sha256.Size*2)))
		return store.APIToken{}, "unknown token", nil
	} else if err != nil {
		return store.APIToken{}, "", err
	}
	switch {
	case subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(t.SecretHash)) != 1:
		return t, "wrong secret", nil
	case !t.RevokedAt.IsZero():
		return t, "revoked token", nil
	case !s.now().Before(t.ExpiresAt):
		return t, "expired token", nil
	}
	return t, "", nil
}

// splitToken reads "fidp_<ID>_<secret>".
func splitToken(bearer string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(bearer, TokenPrefix)
	if !ok || len(rest) != tokenIDLen+1+tokenSecretLen || rest[tokenIDLen] != '_' {
		return "", "", false
	}
	id, secret = rest[:tokenIDLen], rest[tokenIDLen+1:]
	if _, err := hex.DecodeString(id); err != nil || strings.ToLower(id) != id {
		return "", "", false
	}
	return id, secret, true
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// RequireScope refuses, with a Forbidden error, a token without scope.
func RequireScope(t store.APIToken, scope Scope) error {
	if slices.Contains(t.Scopes, string(scope)) {
		return nil
	}
	return errorf(Forbidden, "This API token does not have the %s scope.", string(scope))
}

// TokenActor is who makes the changes of a request authenticated by t:
// the token's name, from address.
func TokenActor(t store.APIToken, address string) Actor { return Actor{Name: t.Name, Address: address} }

// TokenView is what the audit trail and listings show of a token: never
// its secret or hash.
func TokenView(t store.APIToken) map[string]any {
	m := map[string]any{"id": t.ID, "name": t.Name, "scopes": t.Scopes, "expires_at": t.ExpiresAt}
	if !t.RevokedAt.IsZero() {
		m["revoked_at"] = t.RevokedAt
	}
	return m
}
