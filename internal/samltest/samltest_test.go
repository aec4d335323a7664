package samltest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestRequireNeverPassesSilently: a missing verifier skips outside CI and
// fails under CI; it never lets the test go on as if it had checked.
func TestRequireNeverPassesSilently(t *testing.T) {
	if os.Getenv("SAMLTEST_CHILD") != "" {
		Require(t, "a-tool-that-is-not-there", "apt-get install nothing")
		t.Log("REACHED") // must not run
		return
	}
	for _, ci := range []string{"", "true"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRequireNeverPassesSilently$", "-test.v")
		cmd.Env = append(os.Environ(), "SAMLTEST_CHILD=1", "CI="+ci)
		out, err := cmd.CombinedOutput()
		s := string(out)
		switch {
		case strings.Contains(s, "REACHED"):
			t.Fatalf("CI=%q: the test went on after Require:\n%s", ci, s)
		case ci == "" && (err != nil || !strings.Contains(s, "--- SKIP")):
			t.Fatalf("outside CI: want a skip, got %v:\n%s", err, s)
		case ci == "true" && (err == nil || !strings.Contains(s, "required under CI")):
			t.Fatalf("under CI: want a failure, got %v:\n%s", err, s)
		}
	}
}
