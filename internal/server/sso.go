package server

import (
	"context"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/attributes"
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
	sess, u, touch, err := s.loadSession(r)
	switch {
	case err == nil && !req.ForceAuthn:
		s.answer(w, r, u, sess, req, provider, s.touch(sess, touch))
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
		s.fail(w, r, &Error{Status: http.StatusNotFound, Message: "There is no application called " + name + "."})
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
	sess, u, touch, err := s.loadSession(r)
	if errors.Is(err, errNoSession) {
		s.showLogin(w, r, http.StatusOK, loginState{IdPInit: provider.Name}, provider.Label(), "", "")
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	s.answer(w, r, u, sess, nil, provider, s.touch(sess, touch))
}

// answer issues the Response to req (nil: unsolicited) for user u and
// renders the auto-POST form. Every check that can refuse the user runs
// before anything is signed; the replay record, the Response's audit
// event and v (the session and sign-in it completes, or the touch of the
// session) are one commit, after signing and before anything is posted:
// a request already answered gets no Response, on any replica.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, u users.User, sess store.Session, req *saml.Request, provider sp.ServiceProvider, v *visit) {
	ctx := r.Context()
	log := s.log.With(slog.String("request_id", requestIDFrom(ctx)), slog.String("user", u.ID), slog.String("sp", provider.Name))
	if u.Disabled {
		s.refuse(w, r, v, errDisabled)
		return
	}
	if may, err := s.acct.MayEnter(ctx, u, provider); err != nil {
		s.refuse(w, r, v, err)
		return
	} else if !may {
		s.refuse(w, r, v, &Error{Status: http.StatusForbidden, Message: "You are not assigned to " + provider.Label() + ".",
			Hint: "Ask your administrator to assign you (idp sp assign)."})
		return
	}
	rel, err := attributes.Release(u.Subject(), provider.Policy)
	if err != nil {
		log.WarnContext(ctx, "attribute release refused", "err", err)
		s.refuse(w, r, v, err)
		return
	}
	var once *store.Once
	if req != nil {
		once = &store.Once{Key: req.ReplayKey(), ExpiresAt: req.ReplayExpiry()}
	}
	resp, err := s.idp.Respond(req, provider, rel, saml.Grant{SessionIndex: sess.Index, AuthnInstant: sess.AuthnInstant})
	var se *saml.StatusError
	if errors.As(err, &se) && resp != nil {
		if !s.commitAnswer(w, r, v, once) {
			return
		}
		s.cfg.Metrics.response(provider.Name, "error")
		log.WarnContext(ctx, "SAML error response issued", "status", se.Second, "message", se.Message)
		s.renderPost(w, r, provider.Label(), resp.ACSURL, resp.SAMLResponse, resp.RelayState)
		return
	} else if err != nil {
		s.refuse(w, r, v, err)
		return
	}
	names := make([]string, len(rel.Attributes))
	for n, a := range rel.Attributes {
		names[n] = a.Name
	}
	if !s.commitAnswer(w, r, v, once, s.event(r, store.AuditEvent{Action: accounts.AuditResponse, Actor: u.Email, UserID: u.ID, Email: u.Email, SP: provider.Name,
		Details: details(map[string]any{"assertion_id": resp.AssertionID, "response_id": resp.ResponseID,
			"solicited": req != nil, "acs": resp.ACSURL, "attributes": names})})) {
		return
	}
	s.cfg.Metrics.response(provider.Name, "success")
	s.renderPost(w, r, provider.Label(), resp.ACSURL, resp.SAMLResponse, resp.RelayState)
}

// commitAnswer records v with the Response's replay record and events;
// false when it answered with an error instead. A request already
// answered (replayed) gets errReplay, and v alone is recorded: a sign-in
// that completed keeps its session and event, as when a refusal comes
// before signing.
func (s *Server) commitAnswer(w http.ResponseWriter, r *http.Request, v *visit, once *store.Once, answer ...store.AuditEvent) bool {
	err := s.record(w, r, v, once, answer...)
	if errors.Is(err, store.ErrConflict) && once != nil {
		s.refuse(w, r, v, errReplay)
		return false
	} else if err != nil {
		s.fail(w, r, err)
		return false
	}
	return true
}

// refuse answers err once v, what the request had to commit anyway (a
// completed sign-in: its session and event), is recorded.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	if rerr := s.record(w, r, v, nil); rerr != nil {
		s.fail(w, r, rerr)
		return
	}
	s.fail(w, r, err)
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
