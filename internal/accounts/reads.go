package accounts

import (
	"context"
	"errors"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// ListUsers returns the users matching f, ordered by email.
func (s *Service) ListUsers(ctx context.Context, f store.UserFilter) ([]users.User, error) {
	return s.st.ListUsers(ctx, f)
}

// SearchAudit returns the audit events matching f, newest first.
func (s *Service) SearchAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	return s.st.ListAudit(ctx, f)
}

// BaseURL returns the base URL the server last ran with on this store
// (RecordBaseURL), or "" when none has run yet.
func (s *Service) BaseURL(ctx context.Context) (string, error) {
	v, err := s.st.GetSetting(ctx, store.SettingBaseURL)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return v, err
}

// Assignments returns the names of the service providers the user (by
// ID) is assigned to.
func (s *Service) Assignments(ctx context.Context, userID string) ([]string, error) {
	return s.st.Assignments(ctx, userID)
}
