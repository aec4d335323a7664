package server

import (
	"sync"

	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// sessionCache keeps the sessions this replica has read for an SSO
// Response, each with its user and the user's groups, so that an SSO
// request within a session reads nothing from the database: its one
// statement is the commit.
//
// It is safe with several replicas (and the CLI, the console, SCIM and
// directory sync, which change users and groups anywhere) without telling
// them of a change, as spCache is: a Response built from a cached session
// is posted only if the session's stamp is still the one read, checked in
// the same commit as the replay record and the audit event
// (store.Visit.Session). Every change of the session (but its
// last-seen time), its user, the user's memberships or their groups moves
// the stamp (database triggers; migration 020), and an ended session, or
// one of a deleted user, has none. When the check fails, nothing was
// written or posted: the entry is forgotten and the request is answered
// again from the database. A refusal decided on a cached entry (a
// disabled user, an SP the user may not enter) is checked the same way
// before it is shown.
//
// Only what serves without a second look is used from memory: a session
// that is not expired, not idle, whose user is enabled and whose
// last-seen time is not due to be touched (loadSession reads one that is,
// and so each session is read again about once a minute). It holds at
// most maxSessions entries; when full, an arbitrary one makes room.
type sessionCache struct {
	mu      sync.RWMutex
	entries map[string]cachedSession
}

// maxSessions bounds sessionCache: about 2 KiB an entry.
const maxSessions = 4096

// cachedSession is a session with its user and groups, as read at its
// stamp.
type cachedSession struct {
	sess   store.Session
	user   users.User
	groups []users.Group
}

func (c *sessionCache) get(id string) (cachedSession, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[id]
	return e, ok
}

// put keeps e, unless an entry of the same session read at a later stamp
// is there.
func (c *sessionCache) put(e cachedSession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]cachedSession{}
	}
	if old, ok := c.entries[e.sess.ID]; ok && old.sess.Stamp > e.sess.Stamp {
		return
	}
	if _, ok := c.entries[e.sess.ID]; !ok && len(c.entries) >= maxSessions {
		for id := range c.entries {
			delete(c.entries, id)
			break
		}
	}
	c.entries[e.sess.ID] = e
}

// forget drops the session id: it changed or ended.
func (c *sessionCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, id)
}
