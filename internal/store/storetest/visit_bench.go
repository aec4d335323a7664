package storetest

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// BenchmarkRecordVisit measures what an SSO Response within a session
// writes: the replay record, the SP's version check and the audit event,
// without and with the session's touch (due at most once a minute). Run
// on each backend (sqlite and postgres: BenchmarkRecordVisit). cpu-ns/op
// is this process's CPU (PostgreSQL's own is not in it), which a shared
// machine's load moves less than ns/op.
func BenchmarkRecordVisit(b *testing.B, newStore func(tb testing.TB) store.Store) {
	ctx := context.Background()
	s, t0, must := benchAgent(b, newStore)
	must(s.CreateSession(ctx, store.Session{ID: "s1", UserID: "u1", Index: "i1", AuthnInstant: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	must(s.CreateServiceProvider(ctx, sp.ServiceProvider{Name: "flex", EntityID: "urn:flex",
		ACSURLs: []string{"https://iam.twilio.com/v2/saml2/authenticate/flex"}}))
	_, version, err := s.GetServiceProviderVersion(ctx, store.SPRef{Name: "flex"})
	must(err)
	n := 0
	for _, bc := range []struct {
		name  string
		touch bool
	}{
		{"SSO", false},
		{"SSO with touch", true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				n++
				v := store.Visit{
					Once: &store.Once{Key: "flex|_" + strconv.Itoa(n), ExpiresAt: time.Now().Add(5 * time.Minute)},
					SP:   &store.SPVersion{Name: "flex", Version: version},
					Audit: []store.AuditEvent{{Action: "saml.response", UserID: "u1", Email: "agent@example.com",
						SP: "flex", RemoteAddr: "192.0.2.1", Details: []byte(`{"acs":"https://iam.twilio.com/v2/saml2/authenticate/flex"}`)}},
				}
				if bc.touch {
					v.TouchSession, v.TouchAt = "s1", time.Now()
				}
				must(s.RecordVisit(ctx, v))
			}
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
	// Fifty agents' Responses at once, as a server under load commits them.
	var next atomic.Int64
	b.Run("SSO concurrent", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(50)
		cpu := processCPU()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.RecordVisit(ctx, store.Visit{
					Once:  &store.Once{Key: "flex|_c" + strconv.FormatInt(next.Add(1), 10), ExpiresAt: time.Now().Add(5 * time.Minute)},
					SP:    &store.SPVersion{Name: "flex", Version: version},
					Audit: []store.AuditEvent{{Action: "saml.response", UserID: "u1", Email: "agent@example.com", SP: "flex", RemoteAddr: "192.0.2.1"}},
				}); err != nil {
					b.Error(err)
				}
			}
		})
		b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
	})
}

// benchAgent is a benchmark's store with one agent, u1, the time it was
// set up, and a must that stops the benchmark on an error.
func benchAgent(b *testing.B, newStore func(tb testing.TB) store.Store) (store.Store, time.Time, func(error)) {
	s := newStore(b)
	must := func(err error) {
		b.Helper()
		if err != nil {
			b.Fatal(err)
		}
	}
	must(s.CreateUser(context.Background(), users.User{ID: "u1", Email: "agent@example.com", FullName: "Alex Agent", Roles: []string{"agent"}}))
	return s, time.Now().UTC(), must
}
