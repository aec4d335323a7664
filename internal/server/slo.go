package server

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/saml"
	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// slo is SAML single logout (saml-profiles §4.4), SP-initiated, with the
// HTTP-Redirect or HTTP-POST binding. The request's NameID and
// SessionIndex must name this browser's session; then the IdP session
// ends. Either way a signed LogoutResponse goes back, with the binding the
// request came with, to the SLO URL registered for the SP and nowhere
// else.
func (s *Server) slo(w http.ResponseWriter, r *http.Request) {
	req, provider, err := s.idp.ParseLogoutRequest(r, s.lookupSP)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.store.ConsumeOnce(r.Context(), req.ReplayKey(), req.ReplayExpiry()); errors.Is(err, store.ErrConflict) {
		s.fail(w, r, errLogoutReplay)
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	status := saml.StatusSuccess
	sess, u, err := s.currentSession(r)
	switch {
	case errors.Is(err, errNoSession):
		// Already signed out here: the SP's goal is met.
	case err != nil:
		s.fail(w, r, err)
		return
	case !logoutNames(req, u, sess, provider):
		// Not this browser's session (or a forged request): end nothing.
		status = saml.StatusRequester
		s.audit(r, store.AuditEvent{Action: accounts.AuditLogout, Actor: provider.Name, UserID: u.ID, Email: u.Email, SP: provider.Name,
			Reason: "single logout refused: NameID or SessionIndex does not match the session"})
	default:
		if err := s.store.DeleteSession(r.Context(), sess.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.fail(w, r, err)
			return
		}
		s.setCookie(w, sessionCookie, "", -1)
		s.audit(r, store.AuditEvent{Action: accounts.AuditLogout, Actor: provider.Name, UserID: u.ID, Email: u.Email, SP: provider.Name,
			Reason: "single logout"})
	}
	resp, err := s.idp.RespondLogout(req, status)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Redirect {
		http.Redirect(w, r, resp.RedirectURL, http.StatusFound)
		return
	}
	s.renderForm(w, r, page{Title: "title.slo", Message: tr(r, "post.signing_out", "sp", provider.Label()), SPName: provider.Label(),
		ACSURL: resp.URL, SAMLResponse: resp.SAMLResponse, RelayState: resp.RelayState})
}

// logoutNames reports whether req names sess: a NameID the SP can have
// received for u (email or user ID) and the SessionIndex of sess. Without
// SP certificates the SessionIndex, which only the SP's assertions carry,
// is what proves the request comes from a party to the session.
func logoutNames(req *saml.LogoutRequest, u users.User, sess store.Session, _ sp.ServiceProvider) bool {
	if !strings.EqualFold(req.NameID, u.Email) && req.NameID != u.ID {
		return false
	}
	return slices.Contains(req.SessionIndexes, sess.Index)
}
