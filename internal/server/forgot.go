package server

import (
	"net/http"

	"github.com/flexidp/flexidp/internal/accounts"
)

// forgotSent (a catalog key) is the one answer to a reset request with a
// mailer set, whether the account exists, is disabled, or the request
// was throttled.
const forgotSent = "forgot.sent"

// forgotNoMail is what the page says when flexidp cannot send email.
const forgotNoMail = "forgot.no_mailer"

// forgotPage shows the forgot-password form.
func (s *Server) forgotPage(w http.ResponseWriter, r *http.Request) {
	s.showForgot(w, r, http.StatusOK, "", "")
}

func (s *Server) showForgot(w http.ResponseWriter, r *http.Request, status int, email, msg string) {
	s.render(w, r, status, "forgot", page{Title: "title.forgot", CSRF: s.csrfToken(w, r), Email: email, Error: msg,
		NoMailer: !s.acct.HasMailer()})
}

// forgot asks accounts.Service.RequestReset for a reset link and answers
// the same page for every well-formed email: the service decides, throttles
// and audits, and sends the email in the background, so neither the page
// nor its timing tells whether the account exists.
func (s *Server) forgot(w http.ResponseWriter, r *http.Request) {
	if err := s.checkCSRF(r); err != nil {
		s.fail(w, r, err)
		return
	}
	email := r.PostFormValue("email")
	err := s.acct.RequestReset(r.Context(), email, s.clientIP(r))
	switch {
	case accounts.ErrorCode(err) == accounts.Invalid:
		s.showForgot(w, r, http.StatusBadRequest, email, tr(r, "forgot.invalid_email"))
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	msg := forgotSent
	if !s.acct.HasMailer() {
		msg = forgotNoMail
	}
	s.render(w, r, http.StatusOK, "forgot", page{Title: "title.forgot", Message: tr(r, msg), Sent: true})
}
