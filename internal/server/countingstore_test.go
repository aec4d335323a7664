package server_test

// countingStore has one method per store.Store method (written from the
// interface), each counted, then forwarded: a method added to the
// interface and not here is forwarded uncounted by the embedded Store
// (TestCountingStoreCountsEveryMethod says which).

import (
	"context"
	"reflect"
	"sync"
	"testing"
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

// tally counts calls by name.
func tally(calls []string) map[string]int {
	n := map[string]int{}
	for _, c := range calls {
		n[c]++
	}
	return n
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

func (c *countingStore) AssignUser(ctx context.Context, userID, spName string) error {
	c.note("AssignUser")
	return c.Store.AssignUser(ctx, userID, spName)
}

func (c *countingStore) UnassignUser(ctx context.Context, userID, spName string) error {
	c.note("UnassignUser")
	return c.Store.UnassignUser(ctx, userID, spName)
}

func (c *countingStore) Assignments(ctx context.Context, userID string) ([]string, error) {
	c.note("Assignments")
	return c.Store.Assignments(ctx, userID)
}

func (c *countingStore) CreateGroup(ctx context.Context, g users.Group) error {
	c.note("CreateGroup")
	return c.Store.CreateGroup(ctx, g)
}

func (c *countingStore) GetGroup(ctx context.Context, id string) (users.Group, error) {
	c.note("GetGroup")
	return c.Store.GetGroup(ctx, id)
}

func (c *countingStore) GetGroupByName(ctx context.Context, name string) (users.Group, error) {
	c.note("GetGroupByName")
	return c.Store.GetGroupByName(ctx, name)
}

func (c *countingStore) GetGroupByExternalID(ctx context.Context, externalID string) (users.Group, error) {
	c.note("GetGroupByExternalID")
	return c.Store.GetGroupByExternalID(ctx, externalID)
}

func (c *countingStore) ListGroups(ctx context.Context) ([]users.Group, error) {
	c.note("ListGroups")
	return c.Store.ListGroups(ctx)
}

func (c *countingStore) UpdateGroup(ctx context.Context, id string, update func(users.Group) (users.Group, error)) (users.Group, error) {
	c.note("UpdateGroup")
	return c.Store.UpdateGroup(ctx, id, update)
}

func (c *countingStore) DeleteGroup(ctx context.Context, id string) error {
	c.note("DeleteGroup")
	return c.Store.DeleteGroup(ctx, id)
}

func (c *countingStore) AddGroupMembers(ctx context.Context, groupID string, userIDs ...string) error {
	c.note("AddGroupMembers")
	return c.Store.AddGroupMembers(ctx, groupID, userIDs...)
}

func (c *countingStore) RemoveGroupMembers(ctx context.Context, groupID string, userIDs ...string) error {
	c.note("RemoveGroupMembers")
	return c.Store.RemoveGroupMembers(ctx, groupID, userIDs...)
}

func (c *countingStore) GroupMembers(ctx context.Context, groupID string) ([]users.User, error) {
	c.note("GroupMembers")
	return c.Store.GroupMembers(ctx, groupID)
}

func (c *countingStore) UserGroups(ctx context.Context, userID string) ([]users.Group, error) {
	c.note("UserGroups")
	return c.Store.UserGroups(ctx, userID)
}

func (c *countingStore) MembersGroups(ctx context.Context, groupID string) (map[string][]users.Group, error) {
	c.note("MembersGroups")
	return c.Store.MembersGroups(ctx, groupID)
}

func (c *countingStore) CreateSession(ctx context.Context, s store.Session) error {
	c.note("CreateSession")
	return c.Store.CreateSession(ctx, s)
}

func (c *countingStore) GetSession(ctx context.Context, id string) (store.Session, error) {
	c.note("GetSession")
	return c.Store.GetSession(ctx, id)
}

func (c *countingStore) GetSessionUser(ctx context.Context, id string) (store.Session, users.User, []users.Group, error) {
	c.note("GetSessionUser")
	return c.Store.GetSessionUser(ctx, id)
}

func (c *countingStore) GetSignInFacts(ctx context.Context, email string) (store.SignInFacts, error) {
	c.note("GetSignInFacts")
	return c.Store.GetSignInFacts(ctx, email)
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

func (c *countingStore) DeleteOtherSessions(ctx context.Context, userID, keepID string) (int, error) {
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

func (c *countingStore) PutSetting(ctx context.Context, name, value string) error {
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

func (c *countingStore) Assignees(ctx context.Context, spName string, limit int) ([]string, error) {
	c.note("Assignees")
	return c.Store.Assignees(ctx, spName, limit)
}

func (c *countingStore) VerifySession(ctx context.Context, id string, at time.Time) error {
	c.note("VerifySession")
	return c.Store.VerifySession(ctx, id, at)
}

func (c *countingStore) CountAudit(ctx context.Context, f store.AuditFilter) (int, error) {
	c.note("CountAudit")
	return c.Store.CountAudit(ctx, f)
}

func (c *countingStore) CreateDirectory(ctx context.Context, d store.Directory) error {
	c.note("CreateDirectory")
	return c.Store.CreateDirectory(ctx, d)
}

func (c *countingStore) GetDirectory(ctx context.Context, name string) (store.Directory, error) {
	c.note("GetDirectory")
	return c.Store.GetDirectory(ctx, name)
}

func (c *countingStore) ListDirectories(ctx context.Context) ([]store.Directory, error) {
	c.note("ListDirectories")
	return c.Store.ListDirectories(ctx)
}

func (c *countingStore) UpdateDirectory(ctx context.Context, name string, update func(store.Directory) (store.Directory, error)) (store.Directory, error) {
	c.note("UpdateDirectory")
	return c.Store.UpdateDirectory(ctx, name, update)
}

func (c *countingStore) DeleteDirectory(ctx context.Context, name string) error {
	c.note("DeleteDirectory")
	return c.Store.DeleteDirectory(ctx, name)
}

func (c *countingStore) LinkUser(ctx context.Context, l store.DirectoryLink) error {
	c.note("LinkUser")
	return c.Store.LinkUser(ctx, l)
}

func (c *countingStore) GetUserLink(ctx context.Context, userID string) (store.DirectoryLink, error) {
	c.note("GetUserLink")
	return c.Store.GetUserLink(ctx, userID)
}

func (c *countingStore) ListDirectoryLinks(ctx context.Context, directory string) ([]store.DirectoryLink, error) {
	c.note("ListDirectoryLinks")
	return c.Store.ListDirectoryLinks(ctx, directory)
}

func (c *countingStore) GetLinkByExternalID(ctx context.Context, directory, externalID string) (store.DirectoryLink, error) {
	c.note("GetLinkByExternalID")
	return c.Store.GetLinkByExternalID(ctx, directory, externalID)
}

func (c *countingStore) CreateAPIToken(ctx context.Context, t store.APIToken) error {
	c.note("CreateAPIToken")
	return c.Store.CreateAPIToken(ctx, t)
}

func (c *countingStore) GetAPIToken(ctx context.Context, id string) (store.APIToken, error) {
	c.note("GetAPIToken")
	return c.Store.GetAPIToken(ctx, id)
}

func (c *countingStore) ListAPITokens(ctx context.Context) ([]store.APIToken, error) {
	c.note("ListAPITokens")
	return c.Store.ListAPITokens(ctx)
}

func (c *countingStore) UpdateAPIToken(ctx context.Context, id string, update func(store.APIToken) (store.APIToken, error)) (store.APIToken, error) {
	c.note("UpdateAPIToken")
	return c.Store.UpdateAPIToken(ctx, id, update)
}

func (c *countingStore) CreatePasskey(ctx context.Context, p store.Passkey) error {
	c.note("CreatePasskey")
	return c.Store.CreatePasskey(ctx, p)
}

func (c *countingStore) ListPasskeys(ctx context.Context, userID string) ([]store.Passkey, error) {
	c.note("ListPasskeys")
	return c.Store.ListPasskeys(ctx, userID)
}

func (c *countingStore) UpdatePasskey(ctx context.Context, id string, update func(store.Passkey) (store.Passkey, error)) (store.Passkey, error) {
	c.note("UpdatePasskey")
	return c.Store.UpdatePasskey(ctx, id, update)
}

func (c *countingStore) DeletePasskey(ctx context.Context, userID, id string) error {
	c.note("DeletePasskey")
	return c.Store.DeletePasskey(ctx, userID, id)
}

func (c *countingStore) DeleteUserPasskeys(ctx context.Context, userID string) (int, error) {
	c.note("DeleteUserPasskeys")
	return c.Store.DeleteUserPasskeys(ctx, userID)
}

// TestCountingStoreCountsEveryMethod: every store.Store method is counted
// (a method the interface gained and countingStore lacks would be
// forwarded uncounted, and a round-trip budget would miss it). Each method
// is called with zero arguments on a countingStore over no store: it
// panics when forwarding, after counting if it counts.
func TestCountingStoreCountsEveryMethod(t *testing.T) {
	iface := reflect.TypeFor[store.Store]()
	for i := range iface.NumMethod() {
		m := iface.Method(i)
		c := &countingStore{}
		fn := reflect.ValueOf(c).MethodByName(m.Name)
		args := make([]reflect.Value, fn.Type().NumIn())
		for j := range args {
			args[j] = reflect.Zero(fn.Type().In(j))
		}
		func() {
			defer func() { _ = recover() }()
			if fn.Type().IsVariadic() {
				fn.CallSlice(args)
			} else {
				fn.Call(args)
			}
		}()
		if got := c.take(); len(got) != 1 || got[0] != m.Name {
			t.Errorf("countingStore.%s counted %v, want [%s]: add the method to countingStore", m.Name, got, m.Name)
		}
	}
}
