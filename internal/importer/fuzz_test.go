package importer

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/flexidp/flexidp/internal/users"
)

// FuzzParse checks that Parse never panics, in any format, and that what
// it accepts keeps the Record contract: a user a store may hold.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for i := range len(Formats) + 1 {
			f.Add(data, uint8(i))
		}
	}
	for _, s := range []string{"", "[", "{", "email\n", "\xEF\xBB\xBF", "[{}]", `{"email":"a@b.c","attributes":{"x.int":1e400}}`,
		"email,roles\n\"a@b.c\",\"agent\n", "login,userType\r\nx@y.z,\"wfo.x, agent\"\r\n"} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		var format Format // detected
		if i := int(which) % (len(Formats) + 1); i > 0 {
			format = Formats[i-1]
		}
		res, err := Parse(bytes.NewReader(data), format)
		if err != nil {
			return
		}
		if len(res.Records) > res.Rows {
			t.Fatalf("%d records of %d rows", len(res.Records), res.Rows)
		}
		for _, r := range res.Records {
			if r.Line < 1 {
				t.Fatalf("record at line %d", r.Line)
			}
			if err := r.User.Validate(); err != nil {
				t.Fatalf("line %d: accepted an invalid user: %v", r.Line, err)
			}
			if h := r.User.PasswordHash; h != "" {
				if err := users.CheckHash(h); err != nil {
					t.Fatalf("line %d: accepted a bad hash: %v", r.Line, err)
				}
			}
		}
		for _, p := range res.Problems {
			if p.Line < 1 || p.Reason == "" {
				t.Fatalf("problem %+v", p)
			}
		}
	})
}
