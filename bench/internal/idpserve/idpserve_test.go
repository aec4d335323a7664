package idpserve

import (
	"os"
	"strings"
	"testing"
)

// TestShippedBuildMatchesDockerfile: the tools build idp as the
// Dockerfile does (ShippedBuild, CGO_ENABLED=0), so what they measure is
// what is shipped; a change to either must be made to both.
func TestShippedBuildMatchesDockerfile(t *testing.T) {
	b, err := os.ReadFile("../../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	if !strings.Contains(df, "CGO_ENABLED=0") {
		t.Error("the Dockerfile no longer builds with CGO_ENABLED=0; idpserve.Build does")
	}
	for _, arg := range ShippedBuild[:len(ShippedBuild)-1] {
		want := arg
		if name, value, ok := strings.Cut(arg, "="); ok && strings.Contains(value, " ") {
			want = name + `="` + value // the Dockerfile quotes it and adds -X main.version
		}
		if !strings.Contains(df, want) {
			t.Errorf("the Dockerfile's go build has no %s, which idpserve.ShippedBuild passes", want)
		}
	}
}

// TestStatus reads this process's memory lines.
func TestStatus(t *testing.T) {
	m := Status(os.Getpid())
	for _, k := range []string{"VmRSS", "RssAnon", "RssFile"} {
		if m[k] <= 0 && k != "RssFile" {
			t.Errorf("%s = %d KiB", k, m[k])
		}
		if _, ok := m[k]; !ok {
			t.Errorf("no %s line", k)
		}
	}
	if len(Status(-1)) != 0 {
		t.Error("a process that does not exist has memory lines")
	}
}
