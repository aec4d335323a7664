package server

import (
	"context"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/i18n"
	"github.com/flexidp/flexidp/internal/saml"
	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	md, err := s.idp.Metadata()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(md)
}

func (s *Server) certificate(w http.ResponseWriter, r *http.Request) {
	ks := s.idp.Keys()
	if ks == nil {
		s.fail(w, r, errors.New("no signing key loaded"))
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Disposition", `attachment; filename="flexidp-signing.pem"`)
	_ = pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: ks.Certificate.Raw})
}

// lookupSP adapts the store to saml.Lookup.
func (s *Server) lookupSP(ctx context.Context, entityID string) (sp.ServiceProvider, bool, error) {
	p, err := s.store.GetServiceProviderByEntityID(ctx, entityID)
	if errors.Is(err, store.ErrNotFound) {
		return sp.ServiceProvider{}, false, nil
	}
	return p, err == nil, err
}

// sso is the SP-initiated entry point (HTTP-Redirect or HTTP-POST).
func (s *Server) sso(w http.ResponseWriter, r *http.Request) {
	req, provider, err := s.idp.ParseRequest(r, s.lookupSP)
	var se *saml.StatusError
	if errors.As(err, &se) && req != nil {
		// A genuine request flexidp cannot fulfil (binding, authentication
		// context, subject): the SP gets a signed error Response at its
		// registered ACS URL, without asking the user anything.
		s.log.InfoContext(r.Context(), "SAML error response to an AuthnRequest", "sp", provider.Name, "status", se.Second, "message", se.Message)
		s.postError(w, r, req, provider, se)
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	if req.UnverifiedSignature {
		s.log.InfoContext(r.Context(), "AuthnRequest signature not checked: no signing certificate registered for the service provider (idp sp set --signing-cert)",
			"sp", provider.Name)
	}
	sess, u, err := s.currentSession(r)
	switch {
	case err == nil && !req.ForceAuthn:
		s.answer(w, r, u, sess, req, provider)
		return
	case err != nil && !errors.Is(err, errNoSession):
		s.fail(w, r, err)
		return
	}
	if req.IsPassive {
		// saml-core §3.4.1: the IdP must not interact with the user.
		s.postError(w, r, req, provider, saml.NoPassive())
		return
	}
	// A request that names its subject gets that user's email prefilled;
	// signing in as anyone else ends in an UnknownPrincipal Response.
	s.showLogin(w, r, http.StatusOK, loginState{Req: req}, provider.Label(), req.Subject.Email(), "")
}

// idpInitiated posts an unsolicited Response to the SP's default ACS URL
// with its Default Redirect URL as RelayState.
func (s *Server) idpInitiated(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "sp")
	provider, err := s.store.GetServiceProvider(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, &Error{Status: http.StatusNotFound, Message: i18n.M("error.no_app", "name", name)})
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	if r.Method == http.MethodPost {
		if err := s.checkCSRF(r); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	sess, u, err := s.currentSession(r)
	if errors.Is(err, errNoSession) {
		s.showLogin(w, r, http.StatusOK, loginState{IdPInit: provider.Name}, provider.Label(), "", "")
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	s.answer(w, r, u, sess, nil, provider)
}

// answer issues the Response to req (nil: unsolicited) for user u and
// renders the auto-POST form. Every check that can refuse the user runs
// before anything is signed or posted.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, u users.User, sess store.Session, req *saml.Request, provider sp.ServiceProvider) {
	ctx := r.Context()
	log := s.log.With(slog.String("request_id", requestIDFrom(ctx)), slog.String("user", u.ID), slog.String("sp", provider.Name))
	if u.Disabled {
		s.fail(w, r, errDisabled)
		return
	}
	if may, err := s.acct.MayEnter(ctx, u, provider); err != nil {
		s.fail(w, r, err)
		return
	} else if !may {
		s.fail(w, r, &Error{Status: http.StatusForbidden, Message: i18n.M("error.not_assigned", "sp", provider.Label()),
			Hint: i18n.M("error.not_assigned_hint", "command", "idp sp assign")})
		return
	}
	rel, err := s.acct.ReleaseFor(ctx, u, provider) // the user's own values merged with their groups
	if err != nil {
		log.WarnContext(ctx, "attribute release refused", "err", err)
		s.fail(w, r, err)
		return
	}
	if req != nil {
		if err := s.store.ConsumeOnce(ctx, req.ReplayKey(), req.ReplayExpiry()); errors.Is(err, store.ErrConflict) {
			s.fail(w, r, errReplay)
			return
		} else if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	resp, err := s.idp.Respond(req, provider, rel, saml.Grant{SessionIndex: sess.Index, AuthnInstant: sess.AuthnInstant})
	var se *saml.StatusError
	if errors.As(err, &se) && resp != nil {
		s.cfg.Metrics.response(provider.Name, "error")
		log.WarnContext(ctx, "SAML error response issued", "status", se.Second, "message", se.Message)
		s.renderPost(w, r, provider.Label(), resp.ACSURL, resp.SAMLResponse, resp.RelayState)
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	names := make([]string, len(rel.Attributes))
	for n, a := range rel.Attributes {
		names[n] = a.Name
	}
	s.cfg.Metrics.response(provider.Name, "success")
	s.audit(r, store.AuditEvent{Action: accounts.AuditResponse, Actor: u.Email, UserID: u.ID, Email: u.Email, SP: provider.Name,
		Details: details(map[string]any{"assertion_id": resp.AssertionID, "response_id": resp.ResponseID,
			"solicited": req != nil, "acs": resp.ACSURL, "attributes": names})})
	s.renderPost(w, r, provider.Label(), resp.ACSURL, resp.SAMLResponse, resp.RelayState)
}

// postError answers req with a signed SAML error Response.
func (s *Server) postError(w http.ResponseWriter, r *http.Request, req *saml.Request, provider sp.ServiceProvider, se *saml.StatusError) {
	resp, err := s.idp.RespondError(req, provider, se)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.cfg.Metrics.response(provider.Name, "error")
	s.renderPost(w, r, provider.Label(), resp.ACSURL, resp.SAMLResponse, resp.RelayState)
}
