package storetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/group"
	"github.com/flexidp/flexidp/internal/users"
)

// testGetSessionUser: the session, its user and the user's groups (as
// UserGroups returns them, in its order; none for a user without groups)
// come back from one call, whose attributes and times survive the
// union's typed NULLs.
func testGetSessionUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := createUser(t, s, newUser(t, "u1", "one@example.com"))
	createUser(t, s, newUser(t, "u2", "two@example.com"))
	createUser(t, s, newUser(t, "u3", "three@example.com"))
	createGroup(t, s, newGroup(t, "gb", "beta"))
	createGroup(t, s, newGroup(t, "ga", "Alpha"))
	createGroup(t, s, newGroup(t, "gc", "gamma")) // not u1's
	noErr(t, s.AddGroupMembers(ctx, "gb", "u1"), "AddGroupMembers")
	noErr(t, s.AddGroupMembers(ctx, "ga", "u1"), "AddGroupMembers")
	noErr(t, s.AddGroupMembers(ctx, "gc", "u2"), "AddGroupMembers")
	sess := newSession("s1", u.ID, 0)
	sess.SecondFactor, sess.VerifiedAt = "totp", sess.CreatedAt
	createSessions(t, s, sess, newSession("s3", "u3", 0))

	for _, tc := range []struct {
		name, session, user string
	}{
		{"user with groups", "s1", "u1"},
		{"user without groups", "s3", "u3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gotSess, gotUser, gotGroups, err := s.GetSessionUser(ctx, tc.session)
			noErr(t, err, "GetSessionUser")
			want, err := s.GetSession(ctx, tc.session)
			noErr(t, err, "GetSession")
			if gotSess != want {
				t.Errorf("GetSessionUser session = %+v, want GetSession's %+v", gotSess, want)
			}
			wantUser, err := s.GetUser(ctx, tc.user)
			noErr(t, err, "GetUser")
			if !reflect.DeepEqual(gotUser, wantUser) {
				t.Errorf("GetSessionUser user = %+v, want GetUser's %+v", gotUser, wantUser)
			}
			wantGroups, err := s.UserGroups(ctx, tc.user)
			noErr(t, err, "UserGroups")
			same(t, "GetSessionUser groups", gotGroups, wantGroups)
		})
	}
	if got, _, gs, err := s.GetSessionUser(ctx, "s1"); err != nil || got != sessionAsStored(sess) || len(gs) != 2 || gs[0].ID != "ga" {
		t.Errorf("GetSessionUser(s1) = %+v, %d groups, %v; want %+v and groups ga, gb", got, len(gs), err, sessionAsStored(sess))
	}
	_, _, _, err := s.GetSessionUser(ctx, "nope")
	wantErr(t, err, store.ErrNotFound, "GetSessionUser of an unknown session")
}

// auditActions lists the actions of every audit event, oldest first.
func auditActions(t *testing.T, s store.Store) []string {
	t.Helper()
	list, err := s.ListAudit(t.Context(), store.AuditFilter{})
	noErr(t, err, "ListAudit")
	out := make([]string, len(list))
	for i, e := range list {
		out[len(list)-1-i] = e.Action
	}
	return out
}

func testRecordVisit(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := createUser(t, s, newUser(t, "u1", "one@example.com"))
	old := newSession("old", u.ID, 0)
	createSessions(t, s, old)
	once := &store.Once{Key: "sp|_req1", ExpiresAt: tFuture}

	// A sign-in answering a request: previous session ended, new one
	// started, the request consumed, both events recorded in order.
	fresh := newSession("new", u.ID, 1)
	// What the sign-in proved besides the password is stored with the
	// session (the admin console reads it).
	fresh.SecondFactor, fresh.VerifiedAt = "totp", fresh.CreatedAt.Add(time.Second)
	noErr(t, s.RecordVisit(ctx, store.Visit{Once: once, EndSession: old.ID, StartSession: &fresh,
		Audit: []store.AuditEvent{{Action: "signin.success", UserID: u.ID, Time: t0}, {Action: "saml.response", UserID: u.ID, Details: []byte(`{"a":1}`)}}}),
		"RecordVisit of a sign-in")
	if _, err := s.GetSession(ctx, old.ID); err == nil {
		t.Error("the previous session is still there")
	}
	got, err := s.GetSession(ctx, fresh.ID)
	noErr(t, err, "GetSession of the started session")
	if got != sessionAsStored(fresh) {
		t.Errorf("started session = %+v, want %+v", got, sessionAsStored(fresh))
	}
	if got := auditActions(t, s); !reflect.DeepEqual(got, []string{"signin.success", "saml.response"}) {
		t.Errorf("audit = %v, want the sign-in then the response", got)
	}
	list, err := s.ListAudit(ctx, store.AuditFilter{})
	noErr(t, err, "ListAudit")
	if !list[1].Time.Equal(stored(t0)) || list[0].Time.IsZero() || string(list[0].Details) != `{"a":1}` {
		t.Errorf("audit events stored as %+v", list)
	}
	wantErr(t, s.ConsumeOnce(ctx, once.Key, tFuture), store.ErrConflict, "ConsumeOnce of the key a visit consumed")

	// The same request again: nothing of the visit is written.
	other := newSession("other", u.ID, 2)
	touchAt := t0.Add(time.Hour)
	wantErr(t, s.RecordVisit(ctx, store.Visit{Once: once, StartSession: &other, EndSession: fresh.ID,
		TouchSession: fresh.ID, TouchAt: touchAt, Audit: []store.AuditEvent{{Action: "saml.response"}}}),
		store.ErrConflict, "RecordVisit of a consumed request")
	if _, err := s.GetSession(ctx, other.ID); err == nil {
		t.Error("a replayed visit started its session")
	}
	if got, err := s.GetSession(ctx, fresh.ID); err != nil || !got.LastSeenAt.Equal(stored(fresh.LastSeenAt)) {
		t.Errorf("a replayed visit ended or touched the session: %+v, %v", got, err)
	}
	if got := auditActions(t, s); len(got) != 2 {
		t.Errorf("a replayed visit was audited: %v", got)
	}

	// An SSO within the session: a new request, the session touched.
	noErr(t, s.RecordVisit(ctx, store.Visit{Once: &store.Once{Key: "sp|_req2", ExpiresAt: tFuture},
		TouchSession: fresh.ID, TouchAt: touchAt, Audit: []store.AuditEvent{{Action: "saml.response"}}}), "RecordVisit of an SSO")
	if got, _ := s.GetSession(ctx, fresh.ID); !got.LastSeenAt.Equal(stored(touchAt)) {
		t.Errorf("LastSeenAt = %v, want %v", got.LastSeenAt, stored(touchAt))
	}

	// A replay record that expired is replaced, as ConsumeOnce does.
	noErr(t, s.ConsumeOnce(ctx, "sp|_old", tPast), "ConsumeOnce expiring in the past")
	noErr(t, s.RecordVisit(ctx, store.Visit{Once: &store.Once{Key: "sp|_old", ExpiresAt: tFuture}}), "RecordVisit over an expired record")

	// Sessions that are gone are no error; no Once always writes.
	noErr(t, s.RecordVisit(ctx, store.Visit{EndSession: "gone", TouchSession: "gone too", TouchAt: touchAt,
		Audit: []store.AuditEvent{{Action: "logout"}}}), "RecordVisit of sessions that are gone")
	if got := auditActions(t, s); len(got) != 4 || got[3] != "logout" {
		t.Errorf("audit = %v", got)
	}

	// A session ID that is taken: nothing written, the request not consumed.
	wantErr(t, s.RecordVisit(ctx, store.Visit{Once: &store.Once{Key: "sp|_req3", ExpiresAt: tFuture}, StartSession: &fresh,
		Audit: []store.AuditEvent{{Action: "signin.success"}}}), store.ErrConflict, "RecordVisit starting a session whose ID is taken")
	noErr(t, s.ConsumeOnce(ctx, "sp|_req3", tFuture), "ConsumeOnce of the key a failed visit did not consume")
	if got := auditActions(t, s); len(got) != 4 {
		t.Errorf("a failed visit was audited: %v", got)
	}
}

func testRecordVisitConcurrent(t *testing.T, s store.Store) {
	const n = 20
	u := createUser(t, s, newUser(t, "u1", "one@example.com"))
	errs := parallel(t, n, func(ctx context.Context, i int) error {
		sess := newSession(fmt.Sprintf("s%d", i), u.ID, i)
		return s.RecordVisit(ctx, store.Visit{Once: &store.Once{Key: "sp|_same", ExpiresAt: tFuture}, StartSession: &sess,
			Audit: []store.AuditEvent{{Action: "saml.response", Reason: fmt.Sprint(i)}}})
	})
	oneWinner(t, errs, "RecordVisit of one request")
	if got := auditActions(t, s); len(got) != 1 {
		t.Errorf("%d responses audited, want 1", len(got))
	}
	if ids := sessionIDs(t, s, u.ID); len(ids) != 1 {
		t.Errorf("%d sessions started, want 1", len(ids))
	}
}

func testServiceProviderVersion(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := createSP(t, s, newSP(t, "acme", "urn:acme"))
	byName, v1, err := s.GetServiceProviderVersion(ctx, store.SPRef{Name: "acme"})
	noErr(t, err, "GetServiceProviderVersion by name")
	same(t, "GetServiceProviderVersion by name", byName, spAsStored(p))
	byEntity, v, err := s.GetServiceProviderVersion(ctx, store.SPRef{EntityID: "urn:acme"})
	noErr(t, err, "GetServiceProviderVersion by entity ID")
	same(t, "GetServiceProviderVersion by entity ID", byEntity, spAsStored(p))
	if v != v1 {
		t.Errorf("versions %d by name, %d by entity ID", v1, v)
	}
	_, _, err = s.GetServiceProviderVersion(ctx, store.SPRef{EntityID: "urn:nobody"})
	wantErr(t, err, store.ErrNotFound, "GetServiceProviderVersion of an unknown SP")

	// Every write changes it, a write that changes nothing included.
	seen := map[int64]string{v1: "created"}
	step := func(what string) {
		t.Helper()
		_, v, err := s.GetServiceProviderVersion(ctx, store.SPRef{Name: "acme"})
		noErr(t, err, "GetServiceProviderVersion after "+what)
		if earlier, ok := seen[v]; ok {
			t.Errorf("version %d after %s, as after %s", v, what, earlier)
		}
		seen[v] = what
	}
	_, err = s.UpdateServiceProvider(ctx, "acme", func(p sp.ServiceProvider) (sp.ServiceProvider, error) {
		p.ACSURLs = p.ACSURLs[:1]
		return p, nil
	})
	noErr(t, err, "UpdateServiceProvider")
	step("an update")
	_, err = s.UpdateServiceProvider(ctx, "acme", func(p sp.ServiceProvider) (sp.ServiceProvider, error) { return p, nil })
	noErr(t, err, "UpdateServiceProvider changing nothing")
	step("an update changing nothing")
	// Deleted and created again: not a version it had before.
	noErr(t, s.DeleteServiceProvider(ctx, "acme"), "DeleteServiceProvider")
	createSP(t, s, newSP(t, "acme", "urn:acme"))
	step("deleted and created again")
}

func testRecordVisitChangedSP(t *testing.T, s store.Store) {
	ctx := t.Context()
	createSP(t, s, newSP(t, "acme", "urn:acme"))
	_, v, err := s.GetServiceProviderVersion(ctx, store.SPRef{Name: "acme"})
	noErr(t, err, "GetServiceProviderVersion")
	visit := func(key string, version int64) error {
		return s.RecordVisit(ctx, store.Visit{SP: &store.SPVersion{Name: "acme", Version: version},
			Once: &store.Once{Key: key, ExpiresAt: tFuture}, Audit: []store.AuditEvent{{Action: "saml.response"}}})
	}
	noErr(t, visit("sp|_req1", v), "RecordVisit with the current version")

	_, err = s.UpdateServiceProvider(ctx, "acme", func(p sp.ServiceProvider) (sp.ServiceProvider, error) {
		p.AssignmentRequired = true
		return p, nil
	})
	noErr(t, err, "UpdateServiceProvider")
	wantErr(t, visit("sp|_req2", v), store.ErrChanged, "RecordVisit with the version before an update")
	noErr(t, s.ConsumeOnce(ctx, "sp|_req2", tFuture), "ConsumeOnce of the key a stale visit did not consume")
	// A stale SP is told, not a replay, even for a request already answered.
	wantErr(t, visit("sp|_req1", v), store.ErrChanged, "RecordVisit with the version before an update, of a consumed request")
	if got := auditActions(t, s); len(got) != 1 {
		t.Errorf("a stale visit was audited: %v", got)
	}
	noErr(t, s.DeleteServiceProvider(ctx, "acme"), "DeleteServiceProvider")
	wantErr(t, visit("sp|_req3", v), store.ErrChanged, "RecordVisit of a deleted SP")
}

// testSessionStamp: a session's stamp (GetSessionUser) moves with every
// change of what a Response is built from, the session (but its last-seen
// time), its user, the user's memberships and those groups, whoever makes
// it, and with nothing else; a visit built from a stamp that moved, or
// from a session that ended, writes nothing (ErrChanged).
func testSessionStamp(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUser(t, s, newUser(t, "u1", "one@example.com"))
	createUser(t, s, newUser(t, "u2", "two@example.com"))
	createGroup(t, s, newGroup(t, "g1", "one"))
	createGroup(t, s, newGroup(t, "g2", "two"))
	createGroup(t, s, newGroup(t, "g3", "three"))
	noErr(t, s.AddGroupMembers(ctx, "g3", "u2"), "AddGroupMembers")
	createSessions(t, s, newSession("s1", "u1", 0), newSession("o1", "u2", 0))
	stamp := func(id string) int64 {
		t.Helper()
		sess, _, _, err := s.GetSessionUser(ctx, id)
		noErr(t, err, "GetSessionUser "+id)
		return sess.Stamp
	}
	key := 0
	visit := func(v store.SessionVersion) error {
		key++
		return s.RecordVisit(ctx, store.Visit{Session: &v, Once: &store.Once{Key: fmt.Sprintf("sp|_stamp%d", key), ExpiresAt: tFuture},
			TouchSession: v.ID, TouchAt: t0.Add(time.Hour), Audit: []store.AuditEvent{{Action: "saml.response"}}})
	}
	other := stamp("o1")
	for _, step := range []struct {
		name  string
		moves bool
		do    func() error
	}{
		{"the session touched", false, func() error { return s.TouchSession(ctx, "s1", t0.Add(time.Minute)) }},
		{"the session verified", true, func() error { return s.VerifySession(ctx, "s1", t0.Add(2*time.Minute)) }},
		{"the user updated", true, func() error {
			_, err := s.UpdateUser(ctx, "u1", func(u users.User) (users.User, error) { u.Team = "billing"; return u, nil })
			return err
		}},
		{"the user disabled", true, func() error {
			_, err := s.UpdateUser(ctx, "u1", func(u users.User) (users.User, error) { u.Disabled = true; return u, nil })
			return err
		}},
		{"the user imported over", true, func() error {
			u, err := s.GetUser(ctx, "u1")
			if err == nil {
				u.FullName = "Imported Name"
				_, err = s.ImportUsers(ctx, []users.User{u})
			}
			return err
		}},
		{"the user joined a group", true, func() error { return s.AddGroupMembers(ctx, "g1", "u1") }},
		{"the user's group changed", true, func() error {
			_, err := s.UpdateGroup(ctx, "g1", func(g users.Group) (users.Group, error) { g.Team = "sales"; return g, nil })
			return err
		}},
		{"the user left a group", true, func() error { return s.RemoveGroupMembers(ctx, "g1", "u1") }},
		{"another group changed", false, func() error {
			_, err := s.UpdateGroup(ctx, "g1", func(g users.Group) (users.Group, error) { g.Team = "support"; return g, nil })
			return err
		}},
		{"the user's group deleted", true, func() error {
			if err := s.AddGroupMembers(ctx, "g2", "u1"); err != nil {
				return err
			}
			before := stamp("s1")
			if err := s.DeleteGroup(ctx, "g2"); err != nil {
				return err
			}
			if stamp("s1") == before {
				return fmt.Errorf("the stamp did not move when the group went")
			}
			return nil
		}},
	} {
		t.Run(step.name, func(t *testing.T) {
			before := stamp("s1")
			noErr(t, step.do(), step.name)
			after := stamp("s1")
			if moved := after != before; moved != step.moves {
				t.Fatalf("stamp %d -> %d: moved %v, want %v", before, after, moved, step.moves)
			}
			audited := len(auditActions(t, s))
			if step.moves {
				wantErr(t, visit(store.SessionVersion{ID: "s1", Stamp: before}), store.ErrChanged, "RecordVisit with the stamp before "+step.name)
				if n := len(auditActions(t, s)); n != audited {
					t.Errorf("a stale visit was audited (%d events, want %d)", n, audited)
				}
				noErr(t, s.ConsumeOnce(ctx, fmt.Sprintf("sp|_stamp%d", key), tFuture), "ConsumeOnce of the key a stale visit did not consume")
			}
			noErr(t, visit(store.SessionVersion{ID: "s1", Stamp: after}), "RecordVisit with the current stamp")
			if got := stamp("o1"); got != other {
				t.Errorf("another user's session moved: %d -> %d", other, got)
			}
		})
	}
	last := stamp("s1")
	noErr(t, s.DeleteUser(ctx, "u1"), "DeleteUser")
	wantErr(t, visit(store.SessionVersion{ID: "s1", Stamp: last}), store.ErrChanged, "RecordVisit of a deleted user's session")
	noErr(t, s.DeleteSession(ctx, "o1"), "DeleteSession")
	wantErr(t, visit(store.SessionVersion{ID: "o1", Stamp: other}), store.ErrChanged, "RecordVisit of an ended session")
}

// GroupCommit checks a backend's group commit of RecordVisit: visits
// that wait for the store together commit together, and each is judged
// alone. In the first group each visit's verdict comes from its own
// statement: a replayed request (answered before, or earlier in the same
// group) and a visit built from an SP that changed are refused with
// their own error and leave nothing behind, while the others commit. In the second, one visit fails after its first
// write (its session ID is taken): it is refused alone and its write
// undone. g is the backend's group of RecordVisit.
func GroupCommit(t *testing.T, s store.Store, g group.Tester) {
	ctx := t.Context()
	u := createUser(t, s, newUser(t, "u1", "one@example.com"))
	taken := newSession("taken", u.ID, 0)
	createSessions(t, s, taken)
	createSP(t, s, newSP(t, "acme", "urn:acme"))
	_, version, err := s.GetServiceProviderVersion(ctx, store.SPRef{Name: "acme"})
	noErr(t, err, "GetServiceProviderVersion")
	noErr(t, s.ConsumeOnce(ctx, "sp|_answered", tFuture), "ConsumeOnce")

	current := &store.SPVersion{Name: "acme", Version: version}
	touchAt := t0.Add(time.Hour)
	again := newSession("taken", u.ID, 1)
	type visit struct {
		key    string
		v      store.Visit
		want   error // nil: committed
		stored bool  // the key is recorded afterwards
	}
	groups := [][]visit{{
		// The touch first: a backend may reorder a group's writes.
		{"sp|_touch", store.Visit{TouchSession: taken.ID, TouchAt: touchAt}, nil, true},
		{"sp|_answered", store.Visit{SP: current}, store.ErrConflict, true},
		{"sp|_a", store.Visit{SP: current}, nil, true},
		// The same request twice in one group (a replay racing the
		// original): answered once.
		{"sp|_a", store.Visit{SP: current}, store.ErrConflict, true},
		{"sp|_sp-changed", store.Visit{SP: &store.SPVersion{Name: "acme", Version: version + 1}}, store.ErrChanged, false},
		{"sp|_b", store.Visit{SP: current}, nil, true},
	}, {
		{"sp|_c", store.Visit{SP: current}, nil, true},
		{"sp|_session-taken", store.Visit{SP: current, StartSession: &again}, store.ErrConflict, false},
		{"sp|_d", store.Visit{SP: current}, nil, true},
	}}
	t.Cleanup(func() { g.SetHooks(group.Hooks{}) })
	var audited []string
	for _, visits := range groups {
		hold := make(chan struct{})
		var sizes []int
		g.SetHooks(group.Hooks{Hold: hold, Size: func(n int) { sizes = append(sizes, n) }})
		errs := make([]chan error, len(visits))
		for i, tc := range visits {
			v := tc.v
			v.Once = &store.Once{Key: tc.key, ExpiresAt: tFuture}
			v.Audit = []store.AuditEvent{{Action: "saml.response", UserID: u.ID, Reason: tc.key}}
			errs[i] = make(chan error, 1)
			go func() { errs[i] <- s.RecordVisit(ctx, v) }()
			WaitFor(t, func() bool { return g.Waiting() == i+1 }, "the visits to wait for the store together")
		}
		close(hold)
		for i, tc := range visits {
			select {
			case err := <-errs[i]:
				if tc.want == nil {
					noErr(t, err, "RecordVisit "+tc.key+" in a group")
					audited = append(audited, tc.key)
				} else {
					wantErr(t, err, tc.want, "RecordVisit "+tc.key+" in a group")
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("RecordVisit %s: no answer in 10 s", tc.key)
			}
		}
		if len(sizes) != 1 || sizes[0] != len(visits) {
			t.Fatalf("groups of %v visits, want one group of %d", sizes, len(visits))
		}
		for _, tc := range visits {
			err := s.ConsumeOnce(ctx, tc.key, tFuture)
			if tc.stored {
				wantErr(t, err, store.ErrConflict, "ConsumeOnce of "+tc.key+", recorded by the group")
			} else {
				noErr(t, err, "ConsumeOnce of "+tc.key+", which the group did not record")
			}
		}
	}
	list, err := s.ListAudit(ctx, store.AuditFilter{})
	noErr(t, err, "ListAudit")
	var got []string
	for _, e := range list {
		got = append(got, e.Reason)
	}
	slices.Sort(got)
	slices.Sort(audited)
	if !slices.Equal(got, audited) {
		t.Errorf("audited %v, want the committed visits %v", got, audited)
	}
	sess, err := s.GetSession(ctx, taken.ID)
	noErr(t, err, "GetSession")
	if sess.Index != taken.Index || !sess.LastSeenAt.Equal(stored(touchAt)) {
		t.Errorf("session after the groups: %+v; want the first one, touched at %v", sess, stored(touchAt))
	}
}

// WaitFor waits up to 10 s for cond to hold, and fails t then.
func WaitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
	}
}
