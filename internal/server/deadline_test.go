package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/users"
)

// TestAnswerInTime: a request served by an http.Server with a write
// timeout must be done hashing within a third of it; without a write timeout
// there is no deadline (the Hasher's maximum wait applies).
func TestAnswerInTime(t *testing.T) {
	s := &Server{}
	for _, tc := range []struct {
		name         string
		writeTimeout time.Duration
	}{
		{"write timeout 30s", 30 * time.Second},
		{"write timeout 3s", 3 * time.Second},
		{"no write timeout", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan time.Duration, 1)
			ts := httptest.NewUnstartedServer(s.answerInTime(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				by, ok := users.DoneBy(r.Context())
				if !ok {
					got <- -1
					return
				}
				got <- time.Until(by)
			})))
			ts.Config.WriteTimeout = tc.writeTimeout
			ts.Start()
			defer ts.Close()
			resp, err := ts.Client().Get(ts.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			left := <-got
			if tc.writeTimeout == 0 {
				if left != -1 {
					t.Fatalf("a deadline %s away without a write timeout", left)
				}
				return
			}
			if want := tc.writeTimeout / 3; left > want || left < want-time.Second {
				t.Fatalf("hashing must end %s from the handler's start, want about %s (a third of the write timeout)", left, want)
			}
		})
	}
}

// TestBusyIsNotAnInternalError: a refused hash on any page (one that sets
// a password, say) is a 503 "try again", never a 500.
func TestBusyIsNotAnInternalError(t *testing.T) {
	err := fmt.Errorf("set password: %w", &users.BusyError{RetryAfter: 3 * time.Second})
	if e := toError(err); e.Status != http.StatusServiceUnavailable || e.Message.Key != errBusy.Message.Key {
		t.Fatalf("toError(busy) = %d %v, want 503 %v", e.Status, e.Message, errBusy.Message)
	}
}
