package accounts_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/store"
)

// BenchmarkAuditPage reads a page of the audit log of 100,000 events
// (SQLite): the first page, a page 90% deep (keyset paging: it costs what
// the first does), and a page filtered by an actor and an action prefix.
func BenchmarkAuditPage(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	f := newFixture(b)
	for i := range n {
		actor := "cli"
		if i%10 == 0 {
			actor = "owner@example.com"
		}
		if _, err := f.st.AppendAudit(ctx, store.AuditEvent{Action: "admin.user.update", Actor: actor,
			Email: fmt.Sprintf("u%d@example.com", i%5000), Reason: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
	deep := strconv.Itoa(n / 10) // the events below ID n/10: 90% of the way down
	for _, c := range []struct {
		name string
		q    accounts.AuditQuery
	}{
		{"first", accounts.AuditQuery{}},
		{"deep", accounts.AuditQuery{After: deep}},
		{"actor+action", accounts.AuditQuery{Actor: "owner@example.com", Action: "admin"}},
		{"actor+action deep", accounts.AuditQuery{Actor: "owner@example.com", Action: "admin", After: deep}},
		{"user", accounts.AuditQuery{User: "u42@example.com"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				p, err := f.svc.AuditPage(ctx, c.q)
				if err != nil || len(p.Events) == 0 {
					b.Fatalf("%+v, %v", p, err)
				}
			}
		})
	}
}
