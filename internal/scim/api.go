package scim

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// API returns the admin JSON API router, to be mounted at APIPrefix.
func (h *Handler) API() http.Handler {
	r := chi.NewRouter()
	return r
}
