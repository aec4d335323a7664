package scim

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// groupRoutes serves /Groups on the groups service (internal/accounts).
func (h *Handler) groupRoutes(r chi.Router) {
	notYet := func(w http.ResponseWriter, r *http.Request) {
		writeSCIMError(w, &Error{Status: http.StatusNotImplemented, Detail: "Groups are not available yet."})
	}
	r.HandleFunc("/Groups", notYet)
	r.HandleFunc("/Groups/*", notYet)
}
