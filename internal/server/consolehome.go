package server

import "net/http"

// consoleHome is the console's home page: the setup and health
// checklist (accounts.Service.Health) and the values to paste into the
// Flex Console.
func (s *Server) consoleHome(w http.ResponseWriter, r *http.Request) {
	h, err := s.acct.Health(r.Context(), s.cfg.BaseURL, s.idp.Keys())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.consoleRender(w, r, http.StatusOK, "home", "Admin console", h)
}
