package server

import (
	"context"
	"sync"

	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
)

// spCache keeps the service providers this replica has read, by name and
// by entity ID, each with the version it was read at, so that an SSO
// request reads none from the database.
//
// It is safe with several replicas (and the CLI, which changes SPs in
// another process) without telling them of a change: a Response built
// from a cached SP is posted only if the SP's version is still the one
// read, checked in the same commit as the replay record and the audit
// event (store.Visit.SP). Every write of an SP, by any process, changes
// its version (a database trigger; migration 015), and a deleted SP has
// none. When the check fails, nothing was written or posted: the entry is
// forgotten and the request is answered again from the database. What
// the cache decides before that commit (the login page's display name,
// the ACS URL and signature of a request) is checked again in it.
//
// Only SPs that exist are kept (an unknown entity ID is read every time),
// so it holds at most the registered SPs.
type spCache struct {
	mu       sync.RWMutex
	byName   map[string]cachedSP
	byEntity map[string]cachedSP
}

// cachedSP is a service provider as read at a version.
type cachedSP struct {
	sp.ServiceProvider
	version int64
}

// ref is what a Response built from p commits with (store.Visit.SP).
func (p cachedSP) ref() *store.SPVersion { return &store.SPVersion{Name: p.Name, Version: p.version} }

// get returns the SP ref names, from memory or else from st.
func (c *spCache) get(ctx context.Context, st store.Store, ref store.SPRef) (cachedSP, error) {
	c.mu.RLock()
	p, ok := c.byName[ref.Name]
	if ref.Name == "" {
		p, ok = c.byEntity[ref.EntityID]
	}
	c.mu.RUnlock()
	if ok {
		return p, nil
	}
	sp, version, err := st.GetServiceProviderVersion(ctx, ref)
	if err != nil {
		return cachedSP{}, err
	}
	p = cachedSP{ServiceProvider: sp, version: version}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byName == nil {
		c.byName, c.byEntity = map[string]cachedSP{}, map[string]cachedSP{}
	}
	// Keep the newest of two concurrent reads; drop an older entity ID of
	// the same SP.
	if old, ok := c.byName[p.Name]; !ok || old.version < p.version {
		if ok {
			delete(c.byEntity, old.EntityID)
		}
		c.byName[p.Name], c.byEntity[p.EntityID] = p, p
	}
	return p, nil
}

// forget drops the SP named name: it changed or went.
func (c *spCache) forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.byName[name]; ok {
		delete(c.byEntity, old.EntityID)
		delete(c.byName, name)
	}
}
