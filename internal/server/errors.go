package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/attributes"
	"github.com/flexidp/flexidp/internal/i18n"
	"github.com/flexidp/flexidp/internal/saml"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// Error is an error the person in front of the browser should read: its
// Message and Hint are sentences of the message catalog (internal/i18n),
// shown in the reader's language and logged in English.
type Error struct {
	Status  int
	Message i18n.Message
	Hint    i18n.Message
	// Err is the detail for the log; never shown.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message.String() + ": " + e.Err.Error()
	}
	return e.Message.String()
}

func (e *Error) Unwrap() error { return e.Err }

// refusal returns a refusal with status, the catalog message key and
// hint key ("" for none).
func refusal(status int, key, hint string) *Error {
	e := &Error{Status: status, Message: i18n.M(key)}
	if hint != "" {
		e.Hint = i18n.M(hint)
	}
	return e
}

var (
	errCSRF          = refusal(http.StatusForbidden, "error.csrf", "error.csrf_hint")
	errBadState      = refusal(http.StatusBadRequest, "error.bad_state", "error.start_again_hint")
	errSignInExpired = refusal(http.StatusBadRequest, "error.sign_in_expired", "error.sign_in_expired_hint")
	errSPChanged     = refusal(http.StatusServiceUnavailable, "error.sp_changed", "error.sp_changed_hint")
	errReplay        = refusal(http.StatusConflict, "error.replay", "error.start_again_hint")
	errBusy          = refusal(http.StatusServiceUnavailable, "error.busy", "error.busy_hint")
	errNoSession     = refusal(http.StatusUnauthorized, "error.no_session", "")
	errLinkUsed      = &Error{Status: http.StatusGone, Message: i18n.M("error.link_used"),
		Hint: i18n.M("error.link_used_hint", "command", "idp users reset-link")}
	errLogoutReplay = refusal(http.StatusConflict, "error.logout_replay", "")
	errDisabled     = refusal(http.StatusForbidden, "error.disabled", "error.disabled_hint")
	errNoRole       = refusal(http.StatusForbidden, "error.no_role", "error.no_role_hint")
)

// toError is the one mapping from domain errors to what a person reads
// and the status code. Anything unknown is an internal error: its detail
// goes to the log only.
func toError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, users.ErrBusy) {
		// Every hashing slot is taken (a page that sets a password, say):
		// "try again", not an internal error.
		return &Error{Status: errBusy.Status, Message: errBusy.Message, Hint: errBusy.Hint, Err: err}
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Message: i18n.M("error.too_large"), Err: err}
	}
	var acctErr *accounts.Error
	if errors.As(err, &acctErr) {
		// An agent's page shows the catalog sentence; the console's and
		// the CLI's rules (English only) show the service's sentence.
		msg := i18n.Raw(acctErr.Message)
		if acctErr.Key != "" {
			msg = i18n.M(acctErr.Key, acctErr.Args...)
		}
		return &Error{Status: accountsStatus[acctErr.Code], Message: msg, Err: err}
	}
	var re *saml.RequestError
	if errors.As(err, &re) {
		// The protocol layer's reason is for an administrator: it is
		// shown as a detail, in English, under a translated sentence.
		return &Error{Status: http.StatusBadRequest, Message: i18n.M("error.saml_request"),
			Hint: i18n.M("error.saml_request_hint", "detail", re.Reason), Err: err}
	}
	if errors.Is(err, attributes.ErrNoRole) {
		return &Error{Status: errNoRole.Status, Message: errNoRole.Message, Hint: errNoRole.Hint, Err: err}
	}
	var ce *users.ConflictError
	if errors.As(err, &ce) {
		return &Error{Status: http.StatusUnprocessableEntity,
			Message: i18n.M("error.group_conflict", "attributes", conflictNames(ce)),
			Hint:    i18n.M("error.group_conflict_hint", "command", "idp users preview"), Err: err}
	}
	var ae *attributes.Error
	if errors.As(err, &ae) {
		return &Error{Status: http.StatusUnprocessableEntity,
			Message: i18n.M("error.attribute", "detail", ae.Error()),
			Hint:    i18n.M("error.attribute_hint"), Err: err}
	}
	switch {
	case errors.Is(err, saml.ErrLookup), errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusServiceUnavailable, Message: i18n.M("error.database"),
			Hint: i18n.M("error.database_hint"), Err: err}
	case errors.Is(err, store.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Message: i18n.M("error.not_found"), Err: err}
	}
	return &Error{Status: http.StatusInternalServerError, Message: i18n.M("error.internal"),
		Hint: i18n.M("error.internal_hint"), Err: err}
}

// statusTitle is the catalog key of the title of an error page.
func statusTitle(status int) string {
	key := "status." + strconv.Itoa(status)
	if i18n.Forms(i18n.Default, key) != nil {
		return key
	}
	return "status.other"
}

// accountsStatus is the HTTP status of each accounts.Error code.
var accountsStatus = map[accounts.Code]int{
	accounts.Invalid:     http.StatusBadRequest,
	accounts.NotFound:    http.StatusNotFound,
	accounts.Conflict:    http.StatusConflict,
	accounts.Unavailable: http.StatusServiceUnavailable,
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
		slog.String("message", e.Message.String())}
	if e.Err != nil {
		attrs = append(attrs, slog.String(key, e.Err.Error()))
	}
	s.log.LogAttrs(r.Context(), logLevel(e.Status), msg, attrs...)
	lang := i18n.FromContext(r.Context())
	p := page{Title: statusTitle(e.Status), Message: e.Message.In(lang)}
	if !e.Hint.IsZero() {
		p.Hint = e.Hint.In(lang)
	}
	s.render(w, r, e.Status, "error", p)
}

// conflictNames lists the attributes of a conflict ("team, channel.chat.capacity").
func conflictNames(ce *users.ConflictError) string {
	names := make([]string, len(ce.Conflicts))
	for i, c := range ce.Conflicts {
		names[i] = c.Attribute
	}
	return strings.Join(names, ", ")
}
