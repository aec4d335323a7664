package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flexidp/flexidp/internal/store"
)

// ThrottleRetention is the least time a throttle record is kept after its
// last failure, lock or attempt; longer when the lockout Window is longer,
// so that housekeeping never forgets failures the policy still counts.
const ThrottleRetention = 24 * time.Hour

// Swept is what one Housekeeping run removed.
type Swept struct {
	Throttles, Sessions int
}

// Housekeeping removes what no rule needs any more: throttle records past
// their retention, and expired sessions. A server runs it periodically; it
// is safe on several replicas at once. Both sweeps are tried; the errors of
// both are returned.
func (s *Service) Housekeeping(ctx context.Context) (Swept, error) {
	var sw Swept
	var errs []error
	now := s.now()
	n, err := s.st.DeleteStaleThrottles(ctx, now.Add(-max(ThrottleRetention, s.lockout.Window, s.lockout.LockFor)))
	if err != nil {
		errs = append(errs, fmt.Errorf("delete stale throttles: %w", err))
	}
	sw.Throttles = n
	if sw.Sessions, err = s.st.DeleteExpiredSessions(ctx, now); err != nil {
		errs = append(errs, fmt.Errorf("delete expired sessions: %w", err))
	}
	return sw, errors.Join(errs...)
}

// RecordBaseURL stores the base URL the server runs with, so that the CLI
// prints links and Twilio Console values with it.
func (s *Service) RecordBaseURL(ctx context.Context, base string) error {
	return s.st.PutSetting(ctx, store.SettingBaseURL, base)
}
