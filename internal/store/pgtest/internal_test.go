package pgtest

import (
	"strings"
	"testing"
)

func TestNoBinaries(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	binGlob = t.TempDir() + "/*/bin"
	t.Cleanup(func() { binGlob = "/usr/lib/postgresql/*/bin" })
	_, err := findBinaries()
	if err == nil {
		t.Fatal("findBinaries found PostgreSQL in an empty PATH")
	}

	skip, fail := noServer(err, false)
	if fail != nil || !strings.Contains(skip, "skipping") || !strings.Contains(skip, EnvURL) {
		t.Errorf("outside CI: skip %q, fail %v; want a skip naming %s", skip, fail, EnvURL)
	}
	skip, fail = noServer(err, true)
	if skip != "" || fail == nil || !strings.Contains(fail.Error(), "PostgreSQL is required under CI") {
		t.Errorf("under CI: skip %q, fail %v; want a failure", skip, fail)
	}
}

func TestWithDatabase(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u:p@h:5432/postgres?sslmode=disable", "postgres://u:p@h:5432/db1?sslmode=disable"},
		{"postgres://h", "postgres://h/db1"},
		{"host=h user=u dbname=postgres", "host=h user=u dbname=postgres dbname=db1"},
	} {
		got, err := withDatabase(tc.in, "db1")
		if err != nil || got != tc.want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
