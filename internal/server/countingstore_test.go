package server_test

// Code below wraps every method of store.Store (generated from the
// interface): countingStore counts the store calls a request makes.

import (
	"context"
	"sync"
	"time"

	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// countingStore is a store.Store that records the name of every call, in
// order: a request's round trips to the database (each call is one
// statement, one round trip on PostgreSQL, except the read-modify-write
// updaters) and its commits (the calls that write).
type countingStore struct {
	store.Store
	mu    sync.Mutex
	calls []string
}

func (c *countingStore) note(name string) {
	c.mu.Lock()
	c.calls = append(c.calls, name)
	c.mu.Unlock()
}

// take returns the calls since the last take.
func (c *countingStore) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

func (c *countingStore) CreateUser(ctx context.Context, u users.User) error {
	c.note("CreateUser")
	return c.Store.CreateUser(ctx, u)
}

func (c *countingStore) GetUser(ctx context.Context, id string) (users.User, error) {
	c.note("GetUser")
	return c.Store.GetUser(ctx, id)
}

func (c *countingStore) GetUserByEmail(ctx context.Context, email string) (users.User, error) {
	c.note("GetUserByEmail")
	return c.Store.GetUserByEmail(ctx, email)
}

func (c *countingStore) ListUsers(ctx context.Context, f store.UserFilter) ([]users.User, error) {
	c.note("ListUsers")
	return c.Store.ListUsers(ctx, f)
}

func (c *countingStore) CountUsers(ctx context.Context, f store.UserFilter) (int, error) {
	c.note("CountUsers")
	return c.Store.CountUsers(ctx, f)
}

func (c *countingStore) UpdateUser(ctx context.Context, id string, update func(users.User) (users.User, error)) (users.User, error) {
	c.note("UpdateUser")
	return c.Store.UpdateUser(ctx, id, update)
}

func (c *countingStore) DeleteUser(ctx context.Context, id string) error {
	c.note("DeleteUser")
	return c.Store.DeleteUser(ctx, id)
}

func (c *countingStore) ImportUsers(ctx context.Context, us []users.User) (store.ImportResult, error) {
	c.note("ImportUsers")
	return c.Store.ImportUsers(ctx, us)
}

func (c *countingStore) CreateServiceProvider(ctx context.Context, s sp.ServiceProvider) error {
	c.note("CreateServiceProvider")
	return c.Store.CreateServiceProvider(ctx, s)
}

func (c *countingStore) GetServiceProvider(ctx context.Context, name string) (sp.ServiceProvider, error) {
	c.note("GetServiceProvider")
	return c.Store.GetServiceProvider(ctx, name)
}

func (c *countingStore) GetServiceProviderByEntityID(ctx context.Context, entityID string) (sp.ServiceProvider, error) {
	c.note("GetServiceProviderByEntityID")
	return c.Store.GetServiceProviderByEntityID(ctx, entityID)
}

func (c *countingStore) GetServiceProviderVersion(ctx context.Context, ref store.SPRef) (sp.ServiceProvider, int64, error) {
	c.note("GetServiceProviderVersion")
	return c.Store.GetServiceProviderVersion(ctx, ref)
}

func (c *countingStore) ListServiceProviders(ctx context.Context) ([]sp.ServiceProvider, error) {
	c.note("ListServiceProviders")
	return c.Store.ListServiceProviders(ctx)
}

func (c *countingStore) UpdateServiceProvider(ctx context.Context, name string, update func(sp.ServiceProvider) (sp.ServiceProvider, error)) (sp.ServiceProvider, error) {
	c.note("UpdateServiceProvider")
	return c.Store.UpdateServiceProvider(ctx, name, update)
}

func (c *countingStore) DeleteServiceProvider(ctx context.Context, name string) error {
	c.note("DeleteServiceProvider")
	return c.Store.DeleteServiceProvider(ctx, name)
}

func (c *countingStore) AssignUser(ctx context.Context, userID string, spName string) error {
	c.note("AssignUser")
	return c.Store.AssignUser(ctx, userID, spName)
}

func (c *countingStore) UnassignUser(ctx context.Context, userID string, spName string) error {
	c.note("UnassignUser")
	return c.Store.UnassignUser(ctx, userID, spName)
}

func (c *countingStore) Assignments(ctx context.Context, userID string) ([]string, error) {
	c.note("Assignments")
	return c.Store.Assignments(ctx, userID)
}

func (c *countingStore) CreateSession(ctx context.Context, s store.Session) error {
	c.note("CreateSession")
	return c.Store.CreateSession(ctx, s)
}

func (c *countingStore) GetSession(ctx context.Context, id string) (store.Session, error) {
	c.note("GetSession")
	return c.Store.GetSession(ctx, id)
}

func (c *countingStore) GetSessionUser(ctx context.Context, id string) (store.Session, users.User, error) {
	c.note("GetSessionUser")
	return c.Store.GetSessionUser(ctx, id)
}

func (c *countingStore) TouchSession(ctx context.Context, id string, at time.Time) error {
	c.note("TouchSession")
	return c.Store.TouchSession(ctx, id, at)
}

func (c *countingStore) ListSessions(ctx context.Context, userID string) ([]store.Session, error) {
	c.note("ListSessions")
	return c.Store.ListSessions(ctx, userID)
}

func (c *countingStore) DeleteSession(ctx context.Context, id string) error {
	c.note("DeleteSession")
	return c.Store.DeleteSession(ctx, id)
}

func (c *countingStore) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	c.note("DeleteUserSessions")
	return c.Store.DeleteUserSessions(ctx, userID)
}

func (c *countingStore) DeleteOtherSessions(ctx context.Context, userID string, keepID string) (int, error) {
	c.note("DeleteOtherSessions")
	return c.Store.DeleteOtherSessions(ctx, userID, keepID)
}

func (c *countingStore) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	c.note("DeleteExpiredSessions")
	return c.Store.DeleteExpiredSessions(ctx, now)
}

func (c *countingStore) ConsumeOnce(ctx context.Context, key string, expiresAt time.Time) error {
	c.note("ConsumeOnce")
	return c.Store.ConsumeOnce(ctx, key, expiresAt)
}

func (c *countingStore) RecordVisit(ctx context.Context, v store.Visit) error {
	c.note("RecordVisit")
	return c.Store.RecordVisit(ctx, v)
}

func (c *countingStore) UpdateThrottle(ctx context.Context, key string, update func(store.Throttle) (store.Throttle, error)) (store.Throttle, error) {
	c.note("UpdateThrottle")
	return c.Store.UpdateThrottle(ctx, key, update)
}

func (c *countingStore) GetThrottle(ctx context.Context, key string) (store.Throttle, error) {
	c.note("GetThrottle")
	return c.Store.GetThrottle(ctx, key)
}

func (c *countingStore) DeleteThrottle(ctx context.Context, key string) error {
	c.note("DeleteThrottle")
	return c.Store.DeleteThrottle(ctx, key)
}

func (c *countingStore) DeleteStaleThrottles(ctx context.Context, t time.Time) (int, error) {
	c.note("DeleteStaleThrottles")
	return c.Store.DeleteStaleThrottles(ctx, t)
}

func (c *countingStore) AppendAudit(ctx context.Context, e store.AuditEvent) (store.AuditEvent, error) {
	c.note("AppendAudit")
	return c.Store.AppendAudit(ctx, e)
}

func (c *countingStore) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	c.note("ListAudit")
	return c.Store.ListAudit(ctx, f)
}

func (c *countingStore) PutMFA(ctx context.Context, m store.MFA) error {
	c.note("PutMFA")
	return c.Store.PutMFA(ctx, m)
}

func (c *countingStore) GetMFA(ctx context.Context, userID string) (store.MFA, error) {
	c.note("GetMFA")
	return c.Store.GetMFA(ctx, userID)
}

func (c *countingStore) UpdateMFA(ctx context.Context, userID string, update func(store.MFA) (store.MFA, error)) (store.MFA, error) {
	c.note("UpdateMFA")
	return c.Store.UpdateMFA(ctx, userID, update)
}

func (c *countingStore) DeleteMFA(ctx context.Context, userID string) error {
	c.note("DeleteMFA")
	return c.Store.DeleteMFA(ctx, userID)
}

func (c *countingStore) CreateToken(ctx context.Context, t store.Token) error {
	c.note("CreateToken")
	return c.Store.CreateToken(ctx, t)
}

func (c *countingStore) GetToken(ctx context.Context, id string) (store.Token, error) {
	c.note("GetToken")
	return c.Store.GetToken(ctx, id)
}

func (c *countingStore) ConsumeToken(ctx context.Context, id string, now time.Time) (store.Token, error) {
	c.note("ConsumeToken")
	return c.Store.ConsumeToken(ctx, id, now)
}

func (c *countingStore) CreateSigningKey(ctx context.Context, k store.SigningKey) error {
	c.note("CreateSigningKey")
	return c.Store.CreateSigningKey(ctx, k)
}

func (c *countingStore) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	c.note("ListSigningKeys")
	return c.Store.ListSigningKeys(ctx)
}

func (c *countingStore) SetSigningKeyState(ctx context.Context, id string, state store.KeyState) error {
	c.note("SetSigningKeyState")
	return c.Store.SetSigningKeyState(ctx, id, state)
}

func (c *countingStore) PutSetting(ctx context.Context, name string, value string) error {
	c.note("PutSetting")
	return c.Store.PutSetting(ctx, name, value)
}

func (c *countingStore) GetSetting(ctx context.Context, name string) (string, error) {
	c.note("GetSetting")
	return c.Store.GetSetting(ctx, name)
}

func (c *countingStore) Ping(ctx context.Context) error {
	c.note("Ping")
	return c.Store.Ping(ctx)
}

func (c *countingStore) Close() error {
	c.note("Close")
	return c.Store.Close()
}
