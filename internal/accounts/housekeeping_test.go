package accounts_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/store"
)

// TestHousekeeping sweeps expired sessions and throttle records past their
// retention, and keeps what a rule still needs: a lockout Window longer
// than the retention keeps the failures it counts.
func TestHousekeeping(t *testing.T) {
	for _, tc := range []struct {
		name   string
		window time.Duration
		kept   []string
	}{
		{"default window", 0, []string{"recent"}},
		{"window longer than the retention", 48 * time.Hour, []string{"recent", "30h"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t)
			svc := accounts.New(accounts.Config{Store: f.st, Now: func() time.Time { return f.now }, Lockout: accounts.LockoutPolicy{Window: tc.window}})
			for key, age := range map[string]time.Duration{"recent": time.Hour, "30h": 30 * time.Hour, "old": 50 * time.Hour} {
				if _, err := f.st.UpdateThrottle(ctx, key, func(th store.Throttle) (store.Throttle, error) {
					th.Failures, th.LastFailure = 1, f.now.Add(-age)
					return th, nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			u := f.addUser(t, "lee@example.com")
			f.session(t, u, "live")
			err := f.st.CreateSession(ctx, store.Session{ID: "expired", UserID: u.ID, Index: "_expired", AuthnInstant: f.now.Add(-2 * time.Hour),
				CreatedAt: f.now.Add(-2 * time.Hour), LastSeenAt: f.now.Add(-2 * time.Hour), ExpiresAt: f.now.Add(-time.Minute)})
			if err != nil {
				t.Fatal(err)
			}

			sw, err := svc.Housekeeping(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := (accounts.Swept{Throttles: 3 - len(tc.kept), Sessions: 1}); sw != want {
				t.Errorf("swept %+v, want %+v", sw, want)
			}
			for _, key := range []string{"recent", "30h", "old"} {
				_, err := f.st.GetThrottle(ctx, key)
				kept := err == nil
				if !kept && !errors.Is(err, store.ErrNotFound) {
					t.Fatal(err)
				}
				if want := slices.Contains(tc.kept, key); kept != want {
					t.Errorf("throttle %s kept = %v, want %v", key, kept, want)
				}
			}
			if _, err := f.st.GetSession(ctx, "live"); err != nil {
				t.Errorf("live session: %v", err)
			}
			if _, err := f.st.GetSession(ctx, "expired"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("expired session: %v", err)
			}
		})
	}
}

func TestRecordBaseURL(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if err := f.svc.RecordBaseURL(ctx, "https://idp.example.com"); err != nil {
		t.Fatal(err)
	}
	if got, err := f.st.GetSetting(ctx, store.SettingBaseURL); err != nil || got != "https://idp.example.com" {
		t.Fatalf("stored base URL %q, %v", got, err)
	}
}
