package importer

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/flexidp/flexidp/internal/users"
)

// BenchmarkParse100k reads and validates 100,000 users of flexidp NDJSON
// and CSV, as idp users import does before it writes; it reports rows/s.
func BenchmarkParse100k(b *testing.B) {
	const n = 100_000
	us := make([]users.User, n)
	for i := range us {
		us[i] = users.User{ID: fmt.Sprintf("imp-%07d", i), Email: fmt.Sprintf("agent.%07d@example.com", i),
			FullName: fmt.Sprintf("Agent %d", i), Roles: []string{"agent"}, Team: "Blue", Program: "Retail",
			Attributes: attrsB(b, "channel.chat.capacity", fmt.Sprint(i%4), "skills.intarray", "1,2"), PasswordHash: bcryptHash}
	}
	for _, f := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"ndjson", func(w *bytes.Buffer) error { return WriteNDJSON(w, us, true) }},
		{"csv", func(w *bytes.Buffer) error { return WriteCSV(w, us, true) }},
	} {
		var buf bytes.Buffer
		if err := f.write(&buf); err != nil {
			b.Fatal(err)
		}
		b.Run(f.name, func(b *testing.B) {
			for b.Loop() {
				res, err := Parse(bytes.NewReader(buf.Bytes()), "")
				if err != nil || len(res.Records) != n {
					b.Fatalf("%v, %d records, problems %v", err, len(res.Records), res.Problems[:min(3, len(res.Problems))])
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
