package directory

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// DefaultScopes are the scopes an OpenID Connect source asks for.
var DefaultScopes = []string{oidc.ScopeOpenID, "email", "profile"}

// OIDCConfig is one OpenID Connect source (Google Workspace, Microsoft
// Entra, any OpenID Provider).
type OIDCConfig struct {
	// Issuer is the provider's issuer URL; its discovery document
	// (/.well-known/openid-configuration) names the endpoints and keys.
	Issuer string
	// ClientID and ClientSecret are flexidp's registration there.
	ClientID, ClientSecret string
	// Scopes are asked for; DefaultScopes when empty.
	Scopes []string
	// GroupsClaim and RolesClaim name the ID token's claims whose values
	// are mapped to flexidp groups ("groups" and "roles" when empty: Entra's
	// group object IDs and app roles).
	GroupsClaim, RolesClaim string
	// Timeout bounds discovery and the code exchange; DefaultTimeout when
	// zero.
	Timeout time.Duration
}

// Validate checks the configuration and says, in a sentence, what is wrong.
func (c OIDCConfig) Validate() error {
	u, err := url.Parse(c.Issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
		return fmt.Errorf("the issuer %q is not an https:// URL (like https://accounts.google.com)", c.Issuer)
	}
	if c.ClientID == "" {
		return errors.New("give the client ID flexidp is registered with at the provider")
	}
	if c.ClientSecret == "" {
		return errors.New("give the client secret flexidp is registered with at the provider")
	}
	return nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// Identity is what a provider's verified ID token says about a person.
type Identity struct {
	// ID is the stable identifier of the person at the provider: the
	// issuer and the subject.
	ID            string
	Email         string
	EmailVerified bool
	FullName      string
	GivenName     string
	FamilyName    string
	// Groups are the values of the groups and roles claims, sorted; a
	// role is prefixed "role:" so that it never collides with a group.
	Groups []string
}

// ErrRefused: the provider's answer is not acceptable (state, nonce,
// token); its message says why, for a person.
type ErrRefused struct{ Reason string }

func (e *ErrRefused) Error() string { return e.Reason }

// OIDC is a relying party of one provider. Safe for concurrent use; the
// discovery document is fetched when first needed.
type OIDC struct {
	cfg OIDCConfig
	mu  sync.Mutex
	p   *oidc.Provider
}

// NewOIDC returns the relying party of cfg.
func NewOIDC(cfg OIDCConfig) (*OIDC, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = DefaultScopes
	}
	if !slices.Contains(cfg.Scopes, oidc.ScopeOpenID) {
		cfg.Scopes = append([]string{oidc.ScopeOpenID}, cfg.Scopes...)
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if cfg.RolesClaim == "" {
		cfg.RolesClaim = "roles"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &OIDC{cfg: cfg}, nil
}

// provider fetches the discovery document once (again after a failure).
func (o *OIDC) provider(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.p != nil {
		return o.p, nil
	}
	ctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()
	p, err := oidc.NewProvider(ctx, o.cfg.Issuer)
	if err != nil {
		return nil, &UnavailableError{fmt.Errorf("discovery: %w", err)}
	}
	o.p = p
	return p, nil
}

func (o *OIDC) oauth(p *oidc.Provider, redirect string) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: redirect, Scopes: o.cfg.Scopes}
}

// Check fetches the discovery document (readiness, the CLI's test).
func (o *OIDC) Check(ctx context.Context) error {
	o.mu.Lock()
	o.p = nil
	o.mu.Unlock()
	_, err := o.provider(ctx)
	return err
}

// Discovered fetches the discovery document unless it was fetched
// already (readiness: a probe does not ask the provider every time).
func (o *OIDC) Discovered(ctx context.Context) error {
	_, err := o.provider(ctx)
	return err
}

// AuthURL is where the browser is sent to sign in: the authorization
// code flow with PKCE (S256 of verifier), state and nonce.
func (o *OIDC) AuthURL(ctx context.Context, redirect, state, nonce, verifier string) (string, error) {
	p, err := o.provider(ctx)
	if err != nil {
		return "", err
	}
	return o.oauth(p, redirect).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), nil
}

// Exchange redeems code (with the PKCE verifier) and verifies the ID
// token: signature by the provider's published keys, issuer, audience
// (the client ID), expiry, and nonce. It returns an *ErrRefused when the
// answer is not acceptable, an *UnavailableError when the provider could
// not be reached.
func (o *OIDC) Exchange(ctx context.Context, redirect, code, verifier, nonce string) (Identity, error) {
	p, err := o.provider(ctx)
	if err != nil {
		return Identity{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()
	tok, err := o.oauth(p, redirect).Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return Identity{}, &ErrRefused{"the provider refused the sign-in code (" + re.ErrorCode + ")"}
		}
		return Identity{}, &UnavailableError{fmt.Errorf("code exchange: %w", err)}
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, &ErrRefused{"the provider sent no ID token"}
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID}).Verify(ctx, raw)
	if err != nil {
		var expired *oidc.TokenExpiredError
		switch {
		case errors.As(err, &expired):
			return Identity{}, &ErrRefused{"the provider's ID token has expired"}
		case strings.Contains(err.Error(), "audience"):
			return Identity{}, &ErrRefused{"the provider's ID token was issued to another application (audience)"}
		}
		return Identity{}, &ErrRefused{"the provider's ID token could not be verified: " + err.Error()}
	}
	if idt.Nonce == "" || idt.Nonce != nonce {
		return Identity{}, &ErrRefused{"the provider's ID token belongs to another sign-in (nonce)"}
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return Identity{}, &ErrRefused{"the provider's ID token claims could not be read"}
	}
	id := Identity{ID: idt.Issuer + " " + idt.Subject, Email: str(claims["email"]), FullName: str(claims["name"]),
		GivenName: str(claims["given_name"]), FamilyName: str(claims["family_name"]),
		// Entra signals a verified email domain owner with xms_edov.
		EmailVerified: truthy(claims["email_verified"]) || truthy(claims["xms_edov"])}
	id.Groups = append(id.Groups, strs(claims[o.cfg.GroupsClaim])...)
	for _, r := range strs(claims[o.cfg.RolesClaim]) {
		id.Groups = append(id.Groups, "role:"+r)
	}
	slices.Sort(id.Groups)
	id.Groups = slices.Compact(id.Groups)
	return id, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// truthy: a JSON true, or the string "true" some providers send.
func truthy(v any) bool {
	b, ok := v.(bool)
	return (ok && b) || v == "true"
}

func strs(v any) []string {
	var out []string
	switch v := v.(type) {
	case string:
		out = append(out, v)
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}
