package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/saml"
	"github.com/flexidp/flexidp/internal/store"
)

// Error is an error the person in front of the browser should read.
type Error struct {
	Status  int
	Message string
	Hint    string
	// Err is the detail for the log; never shown.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

var (
	errCSRF = &Error{Status: http.StatusForbidden, Message: "The form expired or did not come from this site.",
		Hint: "Reload the page and try again."}
	errBadState = &Error{Status: http.StatusBadRequest, Message: "This sign-in form has expired or was altered.",
		Hint: "Go back to Flex and start the sign-in again."}
	errSignInExpired = &Error{Status: http.StatusBadRequest, Message: "Your sign-in expired, start again.",
		Hint: "Your password or two-step verification changed since you typed your password. Go back to Flex and sign in again."}
	errSPChanged = &Error{Status: http.StatusServiceUnavailable, Message: "The application's settings changed while you were signing in.",
		Hint: "Go back to the application and sign in again."}
	errReplay = &Error{Status: http.StatusConflict, Message: "This sign-in request has already been answered.",
		Hint: "Go back to Flex and start the sign-in again."}
	errBusy = &Error{Status: http.StatusServiceUnavailable, Message: "Many people are signing in right now and flexidp is busy.",
		Hint: "Try again in a few seconds."}
	errNoSession = &Error{Status: http.StatusUnauthorized, Message: "You are not signed in."}
	errLinkUsed  = &Error{Status: http.StatusGone, Message: "This link has expired or has already been used.",
		Hint: "Ask for a new one with “Forgot your password?” on the sign-in page, or ask your administrator (idp users reset-link)."}
	errLogoutReplay = &Error{Status: http.StatusConflict, Message: "This sign-out request has already been answered."}
	errDisabled     = &Error{Status: http.StatusForbidden, Message: "This account is disabled.",
		Hint: "Contact your administrator."}
	errNoRole = &Error{Status: http.StatusForbidden, Message: "Your account has no Flex role, so Flex cannot sign you in.",
		Hint: "Ask your administrator to give you a role (agent, supervisor or admin)."}
)

// toError is the one mapping from domain errors to what a person reads
// and the status code. Anything unknown is an internal error: its detail
// goes to the log only.
func toError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Message: "The request is larger than flexidp accepts.", Err: err}
	}
	var re *saml.RequestError
	if errors.As(err, &re) {
		return &Error{Status: http.StatusBadRequest, Message: re.Reason, Err: err}
	}
	if errors.Is(err, attributes.ErrNoRole) {
		return &Error{Status: errNoRole.Status, Message: errNoRole.Message, Hint: errNoRole.Hint, Err: err}
	}
	var ae *attributes.Error
	if errors.As(err, &ae) {
		return &Error{Status: http.StatusUnprocessableEntity,
			Message: "Flex would refuse your sign-in because of an attribute: " + ae.Error() + ".",
			Hint:    "Nothing was sent to Flex. Ask your administrator to correct this attribute.", Err: err}
	}
	switch {
	case errors.Is(err, saml.ErrLookup), errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusServiceUnavailable, Message: "flexidp cannot reach its database right now.",
			Hint: "Try again in a minute.", Err: err}
	case errors.Is(err, store.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Message: "Not found.", Err: err}
	}
	return &Error{Status: http.StatusInternalServerError, Message: "Internal error.",
		Hint: "The problem was logged; quote the request ID to your administrator.", Err: err}
}

// logLevel is the level of a request that ended with status: a refusal
// (4xx: a wrong password, an unknown ACS URL, an expired form) is routine
// and INFO; only a failure of flexidp itself (5xx) is an ERROR.
func logLevel(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelInfo
}

// fail renders err as an HTML error page and logs it: a refusal (4xx) as
// "request refused" with what was refused, a failure (5xx) as "request
// failed" with the error.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := toError(err)
	msg, key := "request refused", "refused"
	if e.Status >= 500 {
		msg, key = "request failed", "err"
	}
	attrs := []slog.Attr{slog.String("request_id", requestIDFrom(r.Context())), slog.Int("status", e.Status),
		slog.String("message", e.Message)}
	if e.Err != nil {
		attrs = append(attrs, slog.String(key, e.Err.Error()))
	}
	s.log.LogAttrs(r.Context(), logLevel(e.Status), msg, attrs...)
	s.render(w, r, e.Status, "error", page{Title: http.StatusText(e.Status), Message: e.Message, Hint: e.Hint})
}
