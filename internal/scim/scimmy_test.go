package scim_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSCIMMYProvisioningCycle drives a full provisioning cycle (discovery,
// 20 creates, paging, filters, PATCH, PUT, groups, deprovisioning) with
// SCIMMY, an independent SCIM 2.0 implementation (npm "scimmy"), which
// shapes what is sent and validates everything received
// (testdata/scimmy_cycle.mjs). scripts/test.sh installs it and sets
// FLEXIDP_SCIMMY; without it the test is skipped, and under CI it fails.
func TestSCIMMYProvisioningCycle(t *testing.T) {
	dir := os.Getenv("FLEXIDP_SCIMMY")
	node, err := exec.LookPath("node")
	if dir == "" || err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("FLEXIDP_SCIMMY or node is missing: run scripts/test.sh, which installs scimmy")
		}
		t.Skip("FLEXIDP_SCIMMY (scimmy's node_modules) or node is missing; scripts/test.sh installs scimmy")
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.open(t))
			script, _ := filepath.Abs("testdata/scimmy_cycle.mjs")
			cmd := exec.CommandContext(t.Context(), node, script)
			cmd.Env = append(os.Environ(), "SCIM_BASE="+e.srv.URL+"/scim/v2", "SCIM_TOKEN="+e.token, "FLEXIDP_SCIMMY="+dir)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "all checked") {
				t.Fatalf("scimmy cycle: %v\n%s", err, out)
			}
			t.Log(strings.TrimSpace(string(out)))
		})
	}
}
