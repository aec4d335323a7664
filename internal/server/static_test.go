package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestStaticNoListing: /static/ serves its files but lists no directory.
func TestStaticNoListing(t *testing.T) {
	h := newHeaderServer(t, "https://idp.example.com")
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/static/", http.StatusNotFound},
		{"/static", http.StatusNotFound},
		{"/static/.", http.StatusNotFound},
		{"/static//", http.StatusNotFound},
		{"/static/style.css/", http.StatusNotFound},
		{"/static/missing.css", http.StatusNotFound},
		{"/static/../static/style.css", http.StatusNotFound},
		{"/static/style.css", http.StatusOK},
		{"/static/autosubmit.js", http.StatusOK},
	} {
		t.Run(tc.path, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "https://idp.example.com"+tc.path, nil))
			if w.Code != tc.want {
				t.Fatalf("GET %s: status %d, want %d", tc.path, w.Code, tc.want)
			}
			if body := w.Body.String(); strings.Contains(body, "autosubmit.js</a>") || strings.Contains(body, "<pre>") {
				t.Errorf("GET %s lists the directory:\n%s", tc.path, body)
			}
		})
	}
}
