package server

import (
	"net/http"
	"time"

	"github.com/flexidp/flexidp/internal/users"
)

// hashShare is the part of the HTTP server's write timeout a request may
// spend until its password hashing is over, queue included: the rest is
// for the work after it (session, Response, page), which on a saturated
// machine queues for the CPU and the store's connections too, so that the
// answer arrives well before the server closes the connection. A burst
// on one core with PostgreSQL's 4 connections took up to 17 s after the
// hash (docs/performance.md).
const hashShare = 1.0 / 3

// answerInTime gives each request the time by which its password hashing
// must be over (users.WithDoneBy): hashShare of the write timeout of the
// http.Server that serves it, from now (the server's write deadline starts
// when it has read the request's headers). Without a write timeout the
// Hasher's own maximum wait applies.
func (s *Server) answerInTime(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hs, ok := r.Context().Value(http.ServerContextKey).(*http.Server); ok && hs.WriteTimeout > 0 {
			by := time.Now().Add(time.Duration(float64(hs.WriteTimeout) * hashShare))
			r = r.WithContext(users.WithDoneBy(r.Context(), by))
		}
		next.ServeHTTP(w, r)
	})
}
