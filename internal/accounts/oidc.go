package accounts

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flexidp/flexidp/internal/directory"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
	"golang.org/x/oauth2"
)

// OIDCSettings is an OpenID Connect source's configuration, without its
// secret (the client secret, sealed apart). See directory.OIDCConfig.
type OIDCSettings struct {
	Issuer         string   `json:"issuer"`
	ClientID       string   `json:"client_id"`
	Scopes         []string `json:"scopes,omitempty"`
	GroupsClaim    string   `json:"groups_claim,omitempty"`
	RolesClaim     string   `json:"roles_claim,omitempty"`
	TimeoutSeconds int      `json:"timeout_seconds,omitempty"`
	// Groups maps a value of the groups claim (Entra: the group's object
	// ID), or "role:" and an app role, to a flexidp group.
	Groups map[string]string `json:"groups,omitempty"`
}

func (o OIDCSettings) config(secret string) directory.OIDCConfig {
	return directory.OIDCConfig{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: secret, Scopes: o.Scopes,
		GroupsClaim: o.GroupsClaim, RolesClaim: o.RolesClaim, Timeout: time.Duration(o.TimeoutSeconds) * time.Second}
}

// validateOIDC checks an OIDC source (its name, kind and domains are
// checked already).
func (src *Source) validateOIDC() error {
	if len(src.Domains) == 0 {
		// A provider such as Google signs in anyone with an account:
		// only the named domains may come in.
		return errorf(Invalid, "An OpenID Connect source signs in only the email domains it is given: give at least one (like acme.com).")
	}
	groups := map[string]string{}
	for k, g := range src.OIDC.Groups {
		k, g = strings.TrimSpace(k), strings.TrimSpace(g)
		if k == "" || g == "" {
			return errorf(Invalid, "The claim value %q is mapped to no flexidp group.", k)
		}
		groups[k] = g
	}
	src.OIDC.Groups = groups
	secret := src.Password
	if secret == "" && src.HasPassword {
		secret = "(stored)"
	}
	if err := src.OIDC.config(secret).Validate(); err != nil {
		return &Error{Code: Invalid, Message: "The OpenID Connect settings are not valid: " + err.Error() + ".", Err: err}
	}
	return nil
}

// mapGroups returns the flexidp groups that the source's groups (LDAP
// group DNs, or OIDC claim values) map to, sorted, each once.
func (src Source) mapGroups(external []string) []string {
	if src.Kind != KindOIDC {
		return MapGroups(src.LDAP.Groups, external)
	}
	var out []string
	for _, v := range external {
		if g, ok := src.OIDC.Groups[v]; ok {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// liveOIDC returns the relying party of the OIDC source d, replaced when
// its settings change.
func (s *Service) liveOIDC(d store.Directory) (*directory.OIDC, Source, error) {
	s.dirs.mu.Lock()
	defer s.dirs.mu.Unlock()
	if l, ok := s.dirs.m[d.Name]; ok && l.updated.Equal(d.UpdatedAt) && l.o != nil {
		return l.o, l.src, nil
	}
	src, secret, err := s.opened(d)
	if err != nil {
		return nil, Source{}, err
	}
	o, err := directory.NewOIDC(src.OIDC.config(secret))
	if err != nil {
		return nil, Source{}, fmt.Errorf("source %s: %w", d.Name, err)
	}
	s.dirs.put(d, liveDir{o: o, src: src})
	return o, src, nil
}

// connectOIDC returns the relying party of the source name, or nil when
// it is not an OIDC source.
func (s *Service) connectOIDC(ctx context.Context, name string) (*directory.OIDC, error) {
	d, err := s.st.GetDirectory(ctx, name)
	if err != nil {
		return nil, notFoundAs(err, fmt.Sprintf("There is no source named %q (see idp directories list).", name))
	}
	if d.Kind != KindOIDC {
		return nil, nil
	}
	o, _, err := s.liveOIDC(d)
	return o, err
}

// OIDCStart is a sign-in begun at a provider: the browser goes to URL;
// State, Nonce and Verifier must come back with it (bound to that
// browser) for FinishOIDC.
type OIDCStart struct {
	URL, State, Nonce, Verifier string
}

// ErrOIDCRefused: the provider's answer does not sign the person in
// (state, token, email, domain); the *Error's Message says why.
var ErrOIDCRefused = errors.New("the provider's sign-in was refused")

// refused is an ErrOIDCRefused whose catalog sentence is key with args
// (the source's name added); msg is the reason, in English.
func refused(name, key string, args []any, format string, a ...any) error {
	msg := fmt.Sprintf(format, a...)
	return &Error{Code: Invalid, Message: fmt.Sprintf("Signing in with %s did not work: %s.", name, msg),
		Key: key, Args: append([]any{"source", name}, args...), Err: fmt.Errorf("%w: %s: %s", ErrOIDCRefused, name, msg)}
}

// BeginOIDC starts a sign-in through the OIDC source name, whose
// provider sends the browser back to redirect.
func (s *Service) BeginOIDC(ctx context.Context, name, redirect string) (OIDCStart, error) {
	o, err := s.connectOIDC(ctx, name)
	if err != nil {
		return OIDCStart{}, err
	}
	if o == nil {
		return OIDCStart{}, errorf(NotFound, "There is no OpenID Connect source named %q.", name)
	}
	st := OIDCStart{State: s.token(), Nonce: s.token(), Verifier: oauth2.GenerateVerifier()}
	if st.URL, err = o.AuthURL(ctx, redirect, st.State, st.Nonce, st.Verifier); err != nil {
		s.log.WarnContext(ctx, "oidc provider unavailable", "directory", name, "err", err)
		return OIDCStart{}, unavailable(name, err)
	}
	return st, nil
}

func (s *Service) token() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// FinishOIDC redeems the provider's code of a sign-in begun with
// BeginOIDC (verifier and nonce are the ones it returned) and signs the
// person in: the ID token verified, their email verified by the provider
// and in one of the source's domains. Their user is created at the first
// sign-in, and kept in step afterwards (profile, groups), audited as
// "directory:<name>". A refusal is ErrOIDCRefused (an Invalid *Error
// saying why), recorded in the audit trail; ErrDisabled and
// ErrDirectoryUnavailable as for SignIn.
func (s *Service) FinishOIDC(ctx context.Context, name, redirect, code, verifier, nonce, address, sp string) (users.User, error) {
	fail := store.AuditEvent{Action: AuditSignInFailure, Actor: "directory:" + name, SP: sp, RemoteAddr: address}
	d, err := s.st.GetDirectory(ctx, name)
	if err != nil || d.Kind != KindOIDC {
		return users.User{}, refused(name, "login.oidc_refused", []any{"reason", "?"}, "there is no such OpenID Connect source")
	}
	o, src, err := s.liveOIDC(d)
	if err != nil {
		return users.User{}, err
	}
	id, err := o.Exchange(ctx, redirect, code, verifier, nonce)
	var no *directory.ErrRefused
	switch {
	case errors.As(err, &no):
		err = refused(name, "login.oidc_refused", []any{"reason", no.Reason}, "%s", no.Reason)
	case err != nil:
		s.log.WarnContext(ctx, "oidc provider unavailable", "directory", name, "err", err)
		return users.User{}, unavailable(name, err)
	case !id.EmailVerified || id.Email == "":
		err = refused(name, "login.oidc_unverified", []any{"email", id.Email}, "the provider has not verified the email %q of this account", id.Email)
	case !slices.Contains(src.Domains, domainOf(id.Email)):
		err = refused(name, "login.oidc_domain", []any{"email", id.Email, "domains", strings.Join(src.Domains, ", ")},
			"%s is not in a domain this source signs in (%s)", id.Email, strings.Join(src.Domains, ", "))
	}
	if err != nil {
		fail.Email, fail.Reason = users.NormalizeEmail(id.Email), err.Error()
		_ = s.Audit(ctx, fail)
		return users.User{}, err
	}
	u, err := s.syncEntry(ctx, src, directory.Entry{DN: id.ID, ID: id.ID, Email: id.Email, FullName: id.FullName,
		GivenName: id.GivenName, FamilyName: id.FamilyName, Groups: id.Groups})
	if errors.Is(err, errUnknownUser) {
		// The email belongs to a local account (never taken over).
		err = refused(name, "login.oidc_taken", []any{"email", id.Email},
			"the email %s belongs to an account that does not sign in with %s; ask an administrator", id.Email, name)
		fail.UserID, fail.Email, fail.Reason = u.ID, users.NormalizeEmail(id.Email), err.Error()
		_ = s.Audit(ctx, fail)
		return users.User{}, err
	} else if err != nil {
		return users.User{}, err
	}
	if u.Disabled {
		fail.UserID, fail.Email, fail.Reason = u.ID, u.Email, "disabled"
		_ = s.Audit(ctx, fail)
		return users.User{}, ErrDisabled
	}
	return u, nil
}

func domainOf(email string) string {
	if i := strings.LastIndexByte(email, '@'); i >= 0 {
		return strings.ToLower(email[i+1:])
	}
	return ""
}

// mappedGroups returns the flexidp groups src maps anything to.
func (src Source) mappedGroups() []string {
	m := src.LDAP.Groups
	if src.Kind == KindOIDC {
		m = src.OIDC.Groups
	}
	var out []string
	for _, g := range m {
		out = append(out, g)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// syncGroups makes u's memberships of the groups src maps to what the
// source says now (groups, already mapped): u is added to those, and
// removed from the other groups src maps to. Groups src maps nothing to
// (given by an administrator) are left alone. Each change goes through
// AddMembers/RemoveMembers, audited with actor. A mapped group that does
// not exist, or a membership that would give u conflicting values, is
// logged and skipped: it is the administrator's to fix, and the sign-in
// goes on with the rest.
func (s *Service) syncGroups(ctx context.Context, actor Actor, src Source, u users.User, groups []string) error {
	have, err := s.GroupsOf(ctx, u)
	if err != nil {
		return fmt.Errorf("groups of user %s: %w", u.ID, err)
	}
	for _, name := range src.mappedGroups() {
		want := slices.Contains(groups, name)
		member := slices.ContainsFunc(have, func(g users.Group) bool { return strings.EqualFold(g.Name, name) })
		if want == member {
			continue
		}
		var err error
		if want {
			err = s.AddMembers(ctx, actor, name, u.ID)
		} else {
			err = s.RemoveMembers(ctx, actor, name, u.ID)
		}
		if err != nil && ErrorCode(err) == "" {
			return err
		} else if err != nil {
			s.log.WarnContext(ctx, "directory group not applied", "directory", src.Name, "user", u.ID, "group", name, "err", err)
		}
	}
	return nil
}
