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
func (s *Server) sso(w http.ResponseWriter, r *http.Request) { s.ssoAnswer(w, r, true) }

// ssoAnswer answers the AuthnRequest of r with the SP from memory
// (spCache); when that copy turns out stale at the commit, nothing was
// written, and the request is answered once more (again) from the
// database.
func (s *Server) ssoAnswer(w http.ResponseWriter, r *http.Request, again bool) {
	var cached cachedSP
	req, provider, err := s.idp.ParseRequest(r, func(ctx context.Context, entityID string) (sp.ServiceProvider, bool, error) {
		p, err := s.sps.get(ctx, s.store, store.SPRef{EntityID: entityID})
		if errors.Is(err, store.ErrNotFound) {
			return sp.ServiceProvider{}, false, nil
		} else if err != nil {
			return sp.ServiceProvider{}, false, err
		}
		cached = p
		return p.ServiceProvider, true, nil
	})
	// changed answers once the cached SP or session turned out stale
	// (nothing was written or sent).
	var sessID string
	changed := func() {
		s.sps.forget(cached.Name)
		s.sessions.forget(sessID)
		if again {
			s.ssoAnswer(w, r, false)
		} else {
			s.fail(w, r, errSPChanged)
		}
	}
	var se *saml.StatusError
	if errors.As(err, &se) && req != nil {
		// A genuine request flexidp cannot fulfil (binding, authentication
		// context, subject): the SP gets a signed error Response at its
		// registered ACS URL, without asking the user anything.
		s.log.InfoContext(r.Context(), "SAML error response to an AuthnRequest", "sp", provider.Name, "status", se.Second, "message", se.Message)
		if s.postError(w, r, req, cached, se) {
			changed()
		}
		return
	} else if err != nil {
		// A refusal decided on the SP from memory (its ACS URLs, its
		// certificate) stands only if that SP is still current.
		if cached.Name != "" && s.refuse(w, r, &visit{}, cached.ref(), err) {
			changed()
		} else if cached.Name == "" {
			s.fail(w, r, err)
		}
		return
	}
	if req.UnverifiedSignature {
		s.log.InfoContext(r.Context(), "AuthnRequest signature not checked: no signing certificate registered for the service provider (idp sp set --signing-cert)",
			"sp", provider.Name)
	}
	if !req.ForceAuthn {
		sess, u, groups, v, err := s.ssoSession(r, again)
		if err == nil {
			sessID = sess.ID
			if s.answer(w, r, u, groups, sess, req, cached, v) {
				changed()
			}
			return
		} else if !errors.Is(err, errNoSession) {
			s.fail(w, r, err)
			return
		}
	} else if _, _, _, _, err := s.loadSession(r); err != nil && !errors.Is(err, errNoSession) {
		// ForceAuthn: the session is not used (an expired one still ends),
		// but a failing store is still a failure.
		s.fail(w, r, err)
		return
	}
	if req.IsPassive {
		// saml-core §3.4.1: the IdP must not interact with the user.
		if s.postError(w, r, req, cached, saml.NoPassive()) {
			changed()
		}
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
	provider, err := s.sps.get(r.Context(), s.store, store.SPRef{Name: name})
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
	for again := true; ; again = false {
		sess, u, groups, v, err := s.ssoSession(r, again)
		if errors.Is(err, errNoSession) {
			s.showLogin(w, r, http.StatusOK, loginState{IdPInit: provider.Name}, provider.Label(), "", "")
			return
		} else if err != nil {
			s.fail(w, r, err)
			return
		}
		if !s.answer(w, r, u, groups, sess, nil, provider, v) {
			return
		}
		// The SP or the session changed since read: nothing was written
		// or sent; answer once more from the database.
		s.sps.forget(name)
		s.sessions.forget(sess.ID)
		if !again {
			s.fail(w, r, errSPChanged)
			return
		}
		if provider, err = s.sps.get(r.Context(), s.store, store.SPRef{Name: name}); err != nil {
			s.fail(w, r, err)
			return
		}
	}
}

// answer issues the Response to req (nil: unsolicited) for user u, whose
// groups are groups (read with u), and renders the auto-POST form. Every check that can refuse the user runs
// before anything is signed; the replay record, the Response's audit
// event and v (the session and sign-in it completes, or the touch of the
// session) are one commit, after signing and before anything is posted:
// a request already answered gets no Response, on any replica. The commit
// also checks that provider, possibly from memory, is still current:
// changed is true when it is not, and then nothing was written or sent:
// the caller answers again with the SP read anew.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, u users.User, groups []users.Group, sess store.Session, req *saml.Request, cached cachedSP, v *visit) (changed bool) {
	provider := cached.ServiceProvider
	ctx := r.Context()
	// log is built only when there is something to log: With formats its
	// attributes at once, on every Response otherwise.
	log := func() *slog.Logger {
		return s.log.With(slog.String("request_id", requestIDFrom(ctx)), slog.String("user", u.ID), slog.String("sp", provider.Name))
	}
	if u.Disabled {
		return s.refuse(w, r, v, cached.ref(), errDisabled)
	}
	if may, err := s.acct.MayEnter(ctx, u, provider); err != nil {
		return s.refuse(w, r, v, cached.ref(), err)
	} else if !may {
		return s.refuse(w, r, v, cached.ref(), &Error{Status: http.StatusForbidden, Message: i18n.M("error.not_assigned", "sp", provider.Label()),
			Hint: i18n.M("error.not_assigned_hint", "command", "idp sp assign")})
	}
	rel, err := s.acct.Release(u, groups, provider) // the user's own values merged with their groups
	if err != nil {
		log().WarnContext(ctx, "attribute release refused", "err", err)
		return s.refuse(w, r, v, cached.ref(), err)
	}
	var once *store.Once
	if req != nil {
		once = &store.Once{Key: req.ReplayKey(), ExpiresAt: req.ReplayExpiry()}
	}
	resp, err := s.idp.Respond(req, provider, rel, saml.Grant{SessionIndex: sess.Index, AuthnInstant: sess.AuthnInstant})
	var se *saml.StatusError
	if errors.As(err, &se) && resp != nil {
		if ok, changed := s.commitAnswer(w, r, v, once, cached.ref()); !ok {
			return changed
		}
		s.cfg.Metrics.response(provider.Name, "error")
		log().WarnContext(ctx, "SAML error response issued", "status", se.Second, "message", se.Message)
		s.renderPost(w, r, provider.Label(), resp)
		return false
	} else if err != nil {
		return s.refuse(w, r, v, cached.ref(), err)
	}
	names := make([]string, len(rel.Attributes))
	for n, a := range rel.Attributes {
		names[n] = a.Name
	}
	event := s.event(r, store.AuditEvent{Action: accounts.AuditResponse, Actor: u.Email, UserID: u.ID, Email: u.Email, SP: provider.Name,
		Details: details(responseDetails{AssertionID: resp.AssertionID, ResponseID: resp.ResponseID,
			Solicited: req != nil, ACS: resp.ACSURL, Attributes: names})})
	if ok, changed := s.commitAnswer(w, r, v, once, cached.ref(), event); !ok {
		return changed
	}
	s.cfg.Metrics.response(provider.Name, "success")
	s.renderPost(w, r, provider.Label(), resp)
	return false
}

// responseDetails are the details of a Response's audit event. The
// fields are in the order of their names, so that they are encoded as a
// map of them was (sorted keys), without the map's reflection and sort.
type responseDetails struct {
	ACS         string   `json:"acs"`
	AssertionID string   `json:"assertion_id"`
	Attributes  []string `json:"attributes"`
	ResponseID  string   `json:"response_id"`
	Solicited   bool     `json:"solicited"`
}

// commitAnswer records v with the Response's replay record, the version
// of the SP it was built from and its events. ok is false when it did not
// commit: changed when the SP is no longer current (nothing written or
// answered), else it answered with an error. A request already answered
// (replayed) gets errReplay, and v alone is recorded: a sign-in that
// completed keeps its session and event, as when a refusal comes before
// signing.
func (s *Server) commitAnswer(w http.ResponseWriter, r *http.Request, v *visit, once *store.Once, spv *store.SPVersion, answer ...store.AuditEvent) (ok, changed bool) {
	err := s.record(w, r, v, once, spv, answer...)
	switch {
	case errors.Is(err, store.ErrChanged):
		return false, true
	case errors.Is(err, store.ErrConflict) && once != nil:
		s.refuse(w, r, v, nil, errReplay)
		return false, false
	case err != nil:
		s.fail(w, r, err)
		return false, false
	}
	return true, false
}

// refuse answers err once v, what the request had to commit anyway (a
// completed sign-in: its session and event), is recorded. spv, when set,
// is the SP the refusal was decided on, possibly from memory: changed is
// true, and nothing written or answered, when it is no longer current,
// so that a copy gone stale refuses nobody.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, v *visit, spv *store.SPVersion, err error) (changed bool) {
	if rerr := s.record(w, r, v, nil, spv); errors.Is(rerr, store.ErrChanged) {
		return true
	} else if rerr != nil {
		s.fail(w, r, rerr)
		return false
	}
	s.fail(w, r, err)
	return false
}

// postError answers req with a signed SAML error Response, once the SP it
// goes to, possibly from memory, is known to be current (one statement);
// changed is true, and nothing sent, when it is not.
func (s *Server) postError(w http.ResponseWriter, r *http.Request, req *saml.Request, cached cachedSP, se *saml.StatusError) (changed bool) {
	resp, err := s.idp.RespondError(req, cached.ServiceProvider, se)
	if err != nil {
		s.fail(w, r, err)
		return false
	}
	if err := s.record(w, r, &visit{}, nil, cached.ref()); errors.Is(err, store.ErrChanged) {
		return true
	} else if err != nil {
		s.fail(w, r, err)
		return false
	}
	s.cfg.Metrics.response(cached.Name, "error")
	s.renderPost(w, r, cached.Label(), resp)
	return false
}
