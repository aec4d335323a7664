package server

import "net/http"

// consoleHome is the console's home page.
func (s *Server) consoleHome(w http.ResponseWriter, r *http.Request) {
	s.consoleRender(w, r, http.StatusOK, "home", "Admin console", nil)
}
