package importer

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// csvOfUsers is a flexidp CSV of n users with a hash and two attributes,
// about 130 bytes a row.
func csvOfUsers(n int) []byte {
	var b bytes.Buffer
	b.WriteString("email,full_name,roles,team,program,password_hash,channel.chat.capacity,skills.intarray\n")
	for i := range n {
		fmt.Fprintf(&b, "agent.%07d@example.com,Agent Number %d,agent,Blue,Retail,%s,%d,\"1,2\"\n", i, i, bcryptHash, i%4)
	}
	return b.Bytes()
}

// heapAfterGC is the live heap.
func heapAfterGC() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestScanMemoryDoesNotGrowWithUsers: what Scan keeps while it reads a
// file grows by little more than an email per user (for duplicates), not
// by a user record (about 1 KiB with its hash and attributes), which is
// what made a --dry-run of a 16 MB file take 800 MB. The control keeps
// the users, as Parse does, to show that the measure sees the difference.
func TestScanMemoryDoesNotGrowWithUsers(t *testing.T) {
	const n, from = 20000, 2000
	const bound = 400 // bytes kept per user
	data := csvOfUsers(n)
	for _, c := range []struct {
		name  string
		keep  bool
		under bool
	}{
		{"Scan keeps no user", false, true},
		{"control: keeping the users", true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var kept []Record
			var h0, h1 uint64
			seen := 0
			sum, err := Scan(bytes.NewReader(data), CSV, func(r Record) error {
				if c.keep {
					kept = append(kept, r)
				}
				seen++
				switch seen {
				case from:
					h0 = heapAfterGC()
				case n:
					h1 = heapAfterGC()
				}
				return nil
			})
			if err != nil || sum.Valid != n || len(sum.Problems) != 0 {
				t.Fatalf("Scan: %v, %d valid, problems %v", err, sum.Valid, sum.Problems)
			}
			perUser := (float64(h1) - float64(h0)) / (n - from)
			t.Logf("%s: %.0f bytes kept per user", c.name, perUser)
			if (perUser < bound) != c.under {
				t.Errorf("%.0f bytes kept per user; want it %s %d", perUser, map[bool]string{true: "under", false: "over"}[c.under], bound)
			}
			runtime.KeepAlive(kept)
		})
	}
}

// TestScanRetractsLaterDuplicates: a user handed out before its email
// appears again is named in Retracted and not counted as valid; Parse
// leaves both rows out.
func TestScanRetractsLaterDuplicates(t *testing.T) {
	in := "email,roles\nA@example.com,agent\nb@example.com,agent\na@example.com,agent\n"
	var handed []string
	sum, err := Scan(strings.NewReader(in), "", func(r Record) error {
		handed = append(handed, r.User.Email)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(handed, " ") != "A@example.com b@example.com" || strings.Join(sum.Retracted, " ") != "a@example.com" ||
		sum.Rows != 3 || sum.Valid != 1 || sum.BadRows() != 2 || len(sum.Problems) != 2 {
		t.Fatalf("handed %v, summary %+v", handed, sum)
	}
	res, err := Parse(strings.NewReader(in), "")
	if err != nil || len(res.Records) != 1 || res.Records[0].User.Email != "b@example.com" {
		t.Fatalf("Parse: %v, %+v", err, res)
	}
}

// BenchmarkScan100k is BenchmarkParse100k's CSV read with Scan, keeping
// nothing: compare B/op and the memory a dry-run needs.
func BenchmarkScan100k(b *testing.B) {
	data := csvOfUsers(100_000)
	b.ReportAllocs()
	for b.Loop() {
		sum, err := Scan(bytes.NewReader(data), CSV, func(Record) error { return nil })
		if err != nil || sum.Valid != 100_000 {
			b.Fatal(err, sum.Problems[:min(3, len(sum.Problems))])
		}
	}
}
