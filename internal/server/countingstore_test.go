package server_test

// countingStore has one method per store.Store method (written from the
// interface), each counted, then forwarded: a method added to the
// interface and not here is forwarded uncounted by the embedded Store.

import (
	"context"
	"sync"
	"time"

	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// countingStore counts the calls of each store method: a store round
// trip each (UpdateThrottle and other transactions count once here).
type countingStore struct {
	store.Store
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingStore) count(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[name]++
}

// take returns the calls counted since the last take, and starts again.
func (c *countingStore) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = map[string]int{}
	return out
}

func (c *countingStore) CreateUser(ctx context.Context, u users.User) error {
	c.count("CreateUser")
	return c.Store.CreateUser(ctx, u)
}

func (c *countingStore) GetUser(ctx context.Context, id string) (users.User, error) {
	c.count("GetUser")
	return c.Store.GetUser(ctx, id)
}

func (c *countingStore) GetUserByEmail(ctx context.Context, email string) (users.User, error) {
	c.count("GetUserByEmail")
	return c.Store.GetUserByEmail(ctx, email)
}

func (c *countingStore) ListUsers(ctx context.Context, f store.UserFilter) ([]users.User, error) {
	c.count("ListUsers")
	return c.Store.ListUsers(ctx, f)
}

func (c *countingStore) CountUsers(ctx context.Context, f store.UserFilter) (int, error) {
	c.count("CountUsers")
	return c.Store.CountUsers(ctx, f)
}

func (c *countingStore) UpdateUser(ctx context.Context, id string, update func(users.User) (users.User, error)) (users.User, error) {
	c.count("UpdateUser")
	return c.Store.UpdateUser(ctx, id, update)
}

func (c *countingStore) DeleteUser(ctx context.Context, id string) error {
	c.count("DeleteUser")
	return c.Store.DeleteUser(ctx, id)
}

func (c *countingStore) ImportUsers(ctx context.Context, us []users.User) (store.ImportResult, error) {
	c.count("ImportUsers")
	return c.Store.ImportUsers(ctx, us)
}

func (c *countingStore) CreateServiceProvider(ctx context.Context, s sp.ServiceProvider) error {
	c.count("CreateServiceProvider")
	return c.Store.CreateServiceProvider(ctx, s)
}

func (c *countingStore) GetServiceProvider(ctx context.Context, name string) (sp.ServiceProvider, error) {
	c.count("GetServiceProvider")
	return c.Store.GetServiceProvider(ctx, name)
}

func (c *countingStore) GetServiceProviderByEntityID(ctx context.Context, entityID string) (sp.ServiceProvider, error) {
	c.count("GetServiceProviderByEntityID")
	return c.Store.GetServiceProviderByEntityID(ctx, entityID)
}

func (c *countingStore) ListServiceProviders(ctx context.Context) ([]sp.ServiceProvider, error) {
	c.count("ListServiceProviders")
	return c.Store.ListServiceProviders(ctx)
}

func (c *countingStore) UpdateServiceProvider(ctx context.Context, name string, update func(sp.ServiceProvider) (sp.ServiceProvider, error)) (sp.ServiceProvider, error) {
	c.count("UpdateServiceProvider")
	return c.Store.UpdateServiceProvider(ctx, name, update)
}

func (c *countingStore) DeleteServiceProvider(ctx context.Context, name string) error {
	c.count("DeleteServiceProvider")
	return c.Store.DeleteServiceProvider(ctx, name)
}

func (c *countingStore) AssignUser(ctx context.Context, userID, spName string) error {
	c.count("AssignUser")
	return c.Store.AssignUser(ctx, userID, spName)
}

func (c *countingStore) UnassignUser(ctx context.Context, userID, spName string) error {
	c.count("UnassignUser")
	return c.Store.UnassignUser(ctx, userID, spName)
}

func (c *countingStore) Assignments(ctx context.Context, userID string) ([]string, error) {
	c.count("Assignments")
	return c.Store.Assignments(ctx, userID)
}

func (c *countingStore) CreateGroup(ctx context.Context, g users.Group) error {
	c.count("CreateGroup")
	return c.Store.CreateGroup(ctx, g)
}

func (c *countingStore) GetGroup(ctx context.Context, id string) (users.Group, error) {
	c.count("GetGroup")
	return c.Store.GetGroup(ctx, id)
}

func (c *countingStore) GetGroupByName(ctx context.Context, name string) (users.Group, error) {
	c.count("GetGroupByName")
	return c.Store.GetGroupByName(ctx, name)
}

func (c *countingStore) GetGroupByExternalID(ctx context.Context, externalID string) (users.Group, error) {
	c.count("GetGroupByExternalID")
	return c.Store.GetGroupByExternalID(ctx, externalID)
}

func (c *countingStore) ListGroups(ctx context.Context) ([]users.Group, error) {
	c.count("ListGroups")
	return c.Store.ListGroups(ctx)
}

func (c *countingStore) UpdateGroup(ctx context.Context, id string, update func(users.Group) (users.Group, error)) (users.Group, error) {
	c.count("UpdateGroup")
	return c.Store.UpdateGroup(ctx, id, update)
}

func (c *countingStore) DeleteGroup(ctx context.Context, id string) error {
	c.count("DeleteGroup")
	return c.Store.DeleteGroup(ctx, id)
}

func (c *countingStore) AddGroupMembers(ctx context.Context, groupID string, userIDs ...string) error {
	c.count("AddGroupMembers")
	return c.Store.AddGroupMembers(ctx, groupID, userIDs...)
}

func (c *countingStore) RemoveGroupMembers(ctx context.Context, groupID string, userIDs ...string) error {
	c.count("RemoveGroupMembers")
	return c.Store.RemoveGroupMembers(ctx, groupID, userIDs...)
}

func (c *countingStore) GroupMembers(ctx context.Context, groupID string) ([]users.User, error) {
	c.count("GroupMembers")
	return c.Store.GroupMembers(ctx, groupID)
}

func (c *countingStore) UserGroups(ctx context.Context, userID string) ([]users.Group, error) {
	c.count("UserGroups")
	return c.Store.UserGroups(ctx, userID)
}

func (c *countingStore) MembersGroups(ctx context.Context, groupID string) (map[string][]users.Group, error) {
	c.count("MembersGroups")
	return c.Store.MembersGroups(ctx, groupID)
}

func (c *countingStore) CreateSession(ctx context.Context, s store.Session) error {
	c.count("CreateSession")
	return c.Store.CreateSession(ctx, s)
}

func (c *countingStore) GetSession(ctx context.Context, id string) (store.Session, error) {
	c.count("GetSession")
	return c.Store.GetSession(ctx, id)
}

func (c *countingStore) TouchSession(ctx context.Context, id string, at time.Time) error {
	c.count("TouchSession")
	return c.Store.TouchSession(ctx, id, at)
}

func (c *countingStore) ListSessions(ctx context.Context, userID string) ([]store.Session, error) {
	c.count("ListSessions")
	return c.Store.ListSessions(ctx, userID)
}

func (c *countingStore) DeleteSession(ctx context.Context, id string) error {
	c.count("DeleteSession")
	return c.Store.DeleteSession(ctx, id)
}

func (c *countingStore) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	c.count("DeleteUserSessions")
	return c.Store.DeleteUserSessions(ctx, userID)
}

func (c *countingStore) DeleteOtherSessions(ctx context.Context, userID, keepID string) (int, error) {
	c.count("DeleteOtherSessions")
	return c.Store.DeleteOtherSessions(ctx, userID, keepID)
}

func (c *countingStore) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	c.count("DeleteExpiredSessions")
	return c.Store.DeleteExpiredSessions(ctx, now)
}

func (c *countingStore) ConsumeOnce(ctx context.Context, key string, expiresAt time.Time) error {
	c.count("ConsumeOnce")
	return c.Store.ConsumeOnce(ctx, key, expiresAt)
}

func (c *countingStore) UpdateThrottle(ctx context.Context, key string, update func(store.Throttle) (store.Throttle, error)) (store.Throttle, error) {
	c.count("UpdateThrottle")
	return c.Store.UpdateThrottle(ctx, key, update)
}

func (c *countingStore) GetThrottle(ctx context.Context, key string) (store.Throttle, error) {
	c.count("GetThrottle")
	return c.Store.GetThrottle(ctx, key)
}

func (c *countingStore) DeleteThrottle(ctx context.Context, key string) error {
	c.count("DeleteThrottle")
	return c.Store.DeleteThrottle(ctx, key)
}

func (c *countingStore) DeleteStaleThrottles(ctx context.Context, t time.Time) (int, error) {
	c.count("DeleteStaleThrottles")
	return c.Store.DeleteStaleThrottles(ctx, t)
}

func (c *countingStore) AppendAudit(ctx context.Context, e store.AuditEvent) (store.AuditEvent, error) {
	c.count("AppendAudit")
	return c.Store.AppendAudit(ctx, e)
}

func (c *countingStore) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	c.count("ListAudit")
	return c.Store.ListAudit(ctx, f)
}

func (c *countingStore) PutMFA(ctx context.Context, m store.MFA) error {
	c.count("PutMFA")
	return c.Store.PutMFA(ctx, m)
}

func (c *countingStore) GetMFA(ctx context.Context, userID string) (store.MFA, error) {
	c.count("GetMFA")
	return c.Store.GetMFA(ctx, userID)
}

func (c *countingStore) UpdateMFA(ctx context.Context, userID string, update func(store.MFA) (store.MFA, error)) (store.MFA, error) {
	c.count("UpdateMFA")
	return c.Store.UpdateMFA(ctx, userID, update)
}

func (c *countingStore) DeleteMFA(ctx context.Context, userID string) error {
	c.count("DeleteMFA")
	return c.Store.DeleteMFA(ctx, userID)
}

func (c *countingStore) CreateToken(ctx context.Context, t store.Token) error {
	c.count("CreateToken")
	return c.Store.CreateToken(ctx, t)
}

func (c *countingStore) GetToken(ctx context.Context, id string) (store.Token, error) {
	c.count("GetToken")
	return c.Store.GetToken(ctx, id)
}

func (c *countingStore) ConsumeToken(ctx context.Context, id string, now time.Time) (store.Token, error) {
	c.count("ConsumeToken")
	return c.Store.ConsumeToken(ctx, id, now)
}

func (c *countingStore) CreateSigningKey(ctx context.Context, k store.SigningKey) error {
	c.count("CreateSigningKey")
	return c.Store.CreateSigningKey(ctx, k)
}

func (c *countingStore) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	c.count("ListSigningKeys")
	return c.Store.ListSigningKeys(ctx)
}

func (c *countingStore) SetSigningKeyState(ctx context.Context, id string, state store.KeyState) error {
	c.count("SetSigningKeyState")
	return c.Store.SetSigningKeyState(ctx, id, state)
}

func (c *countingStore) PutSetting(ctx context.Context, name, value string) error {
	c.count("PutSetting")
	return c.Store.PutSetting(ctx, name, value)
}

func (c *countingStore) GetSetting(ctx context.Context, name string) (string, error) {
	c.count("GetSetting")
	return c.Store.GetSetting(ctx, name)
}

func (c *countingStore) Ping(ctx context.Context) error {
	c.count("Ping")
	return c.Store.Ping(ctx)
}

func (c *countingStore) Close() error {
	c.count("Close")
	return c.Store.Close()
}
