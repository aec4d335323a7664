package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/users"
)

// TestSigninTimeFloorFlag: --signin-time-floor takes 0 or a duration
// (auto is the default, measured at start), and refuses anything else
// with a sentence naming the setting.
func TestSigninTimeFloorFlag(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"0", 0, ""},
		{"250ms", 250 * time.Millisecond, ""},
		{" 1s ", time.Second, ""},
		{"fast", 0, "IDP_SIGNIN_TIME_FLOOR"},
		{"-1s", 0, "not auto, 0 or a duration"},
	} {
		h := users.NewHasher(users.DefaultParams, 1)
		err := startSigninFloor(t.Context(), log, h, c.in)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want one saying %q", c.in, err, c.err)
		case c.err == "" && (err != nil || h.TimeFloor() != c.want):
			t.Errorf("%q: floor %v, error %v; want %v", c.in, h.TimeFloor(), err, c.want)
		}
	}
}
