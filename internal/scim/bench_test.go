package scim_test

import (
	"fmt"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkSCIMProvision provisions b.N users as Okta does (a look-up by
// userName, then the create), over HTTP against the real handler and
// store, from 4 connections at once, then deactivates each with one PATCH,
// timed one by one. It reports users/s and the p50 and p99 of one PATCH.
// docs/performance.md quotes
//
//	go test -run '^$' -bench SCIMProvision -benchtime 10000x ./internal/scim/
func BenchmarkSCIMProvision(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			e := newEnv(b, be.open(b))
			const workers = 4
			var next atomic.Int64
			var wg sync.WaitGroup
			ids := make([]string, b.N)
			errs := make(chan error, workers)
			b.ResetTimer()
			start := time.Now()
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := int(next.Add(1)) - 1
						if i >= b.N {
							return
						}
						email := fmt.Sprintf("agent%06d@example.com", i)
						if r := e.scim("GET", "/Users?filter="+url.QueryEscape(`userName eq "`+email+`"`), ""); r.status != 200 {
							errs <- fmt.Errorf("look-up: %d %s", r.status, r.body)
							return
						}
						r := e.scim("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+email+`",
							"externalId":"hr-`+fmt.Sprint(i)+`","name":{"givenName":"Agent","familyName":"`+fmt.Sprint(i)+`"},"active":true,
							"urn:flexidp:params:scim:schemas:extension:flex:2.0:User":{"roles":["agent"],"team":"Sales"}}`)
						if r.status != 201 {
							errs <- fmt.Errorf("create: %d %s", r.status, r.body)
							return
						}
						var m map[string]any
						_ = jsonUnmarshal(r.body, &m)
						ids[i] = m["id"].(string)
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			select {
			case err := <-errs:
				b.Fatal(err)
			default:
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "users/s")

			n := min(b.N, 1000)
			lat := make([]time.Duration, 0, n)
			for _, id := range ids[:n] {
				t0 := time.Now()
				r := e.scim("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`)
				lat = append(lat, time.Since(t0))
				if r.status != 200 {
					b.Fatalf("patch: %d %s", r.status, r.body)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "patch-p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "patch-p99-ms")
		})
	}
}
