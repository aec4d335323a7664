package server

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/flexidp/flexidp/internal/i18n"
	"github.com/flexidp/flexidp/internal/users"
)

// retryAfter sets the Retry-After header to the wait d and returns the
// wait as people read it: seconds under two minutes, else minutes
// (rounded up).
func retryAfter(w http.ResponseWriter, d time.Duration) i18n.Message {
	secs := int((d + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	if secs < 120 {
		return i18n.M("wait.seconds", "count", secs)
	}
	return i18n.M("wait.minutes", "count", (secs+59)/60)
}

// busyWait is when a refused hash (users.ErrBusy) may be tried again: the
// Hasher's estimate, or 5 seconds without one.
func busyWait(err error) time.Duration {
	var busy *users.BusyError
	if errors.As(err, &busy) {
		return busy.RetryAfter
	}
	return 5 * time.Second
}
