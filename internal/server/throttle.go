package server

import (
	"net/http"
	"strconv"
	"time"
)

// retryAfter formats a wait for the Retry-After header and the page.
func retryAfter(w http.ResponseWriter, d time.Duration) string {
	secs := int((d + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return (time.Duration(secs) * time.Second).String()
}
