package validate

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

const dockerfilePath = "../../../Dockerfile"

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

// stages splits the Dockerfile into build stages.
func stages(t *testing.T) [][]instruction {
	t.Helper()
	raw, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	var all [][]instruction
	var cur string
	for _, line := range strings.Split(string(raw), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		cur += trimmed
		cmd, args, _ := strings.Cut(cur, " ")
		in := instruction{strings.ToUpper(cmd), strings.TrimSpace(args)}
		cur = ""
		if in.cmd == "FROM" {
			all = append(all, nil)
		}
		if len(all) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("Dockerfile: %s before the first FROM", in.cmd)
			}
			continue
		}
		all[len(all)-1] = append(all[len(all)-1], in)
	}
	if len(all) < 2 {
		t.Fatalf("Dockerfile has %d stage(s), want a multi-stage build", len(all))
	}
	return all
}

func find(stage []instruction, cmd string) []instruction {
	var out []instruction
	for _, in := range stage {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// execForm decodes an exec-form (JSON array) argument.
func execForm(t *testing.T, in instruction) []string {
	t.Helper()
	args := in.args
	if in.cmd == "HEALTHCHECK" {
		_, args, _ = strings.Cut(args, "CMD ")
	}
	var v []string
	if err := json.Unmarshal([]byte(args), &v); err != nil {
		t.Fatalf("Dockerfile %s %s: want the exec (JSON) form, so signals reach idp without a shell: %v", in.cmd, in.args, err)
	}
	return v
}

// imageBinary is where the final image holds the idp binary.
func imageBinary(t *testing.T) string {
	t.Helper()
	all := stages(t)
	final := all[len(all)-1]
	ep := find(final, "ENTRYPOINT")
	if len(ep) != 1 {
		t.Fatal("Dockerfile: the final stage needs one ENTRYPOINT")
	}
	return execForm(t, ep[0])[0]
}

var copyFrom = regexp.MustCompile(`^--from=\S+\s+(?:--\S+\s+)*(\S+)\s+(\S+)$`)

func TestDockerfile(t *testing.T) {
	all := stages(t)
	final := all[len(all)-1]
	base := final[0].args
	if !strings.HasPrefix(base, "gcr.io/distroless/static") && base != "scratch" {
		t.Errorf("final stage FROM %s: want a static base without shell or libc (distroless/static or scratch)", base)
	}
	if strings.HasPrefix(base, "gcr.io/distroless/") && !strings.HasSuffix(base, ":nonroot") {
		t.Errorf("final stage FROM %s: want the :nonroot variant", base)
	}

	var static bool
	for _, stage := range all[:len(all)-1] {
		for _, run := range find(stage, "RUN") {
			if strings.Contains(run.args, "go build") && strings.Contains(run.args, "CGO_ENABLED=0") {
				static = true
			}
		}
	}
	if !static {
		t.Error("no build stage runs `CGO_ENABLED=0 go build`: the binary would not be static")
	}

	users := find(final, "USER")
	if len(users) == 0 {
		t.Fatal("the final stage sets no USER: the container would run as root")
	}
	user := users[len(users)-1].args
	uid, _, _ := strings.Cut(user, ":")
	if !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(uid) {
		t.Errorf("USER %s: want a numeric non-zero UID, so Kubernetes can verify runAsNonRoot", user)
	}

	bin := imageBinary(t)
	copied := false
	for _, c := range find(final, "COPY") {
		if m := copyFrom.FindStringSubmatch(c.args); m != nil && m[2] == bin {
			copied = true
		}
	}
	if !copied {
		t.Errorf("ENTRYPOINT runs %s, which no COPY --from puts in the image", bin)
	}
	hc := find(final, "HEALTHCHECK")
	if len(hc) != 1 || strings.Join(execForm(t, hc[0]), " ") != bin+" healthcheck" {
		t.Errorf("HEALTHCHECK %v: want CMD [%q, \"healthcheck\"]", hc, bin)
	}
	if cmd := find(final, "CMD"); len(cmd) != 1 || strings.Join(execForm(t, cmd[0]), " ") != "serve" {
		t.Errorf("CMD %v: want [\"serve\"]", cmd)
	}
	for _, stage := range all {
		for _, add := range find(stage, "ADD") {
			if strings.Contains(add.args, "://") {
				t.Errorf("ADD %s fetches from the network without a checksum", add.args)
			}
		}
	}
}

// TestDockerignore keeps the build context small and free of secrets, but
// never drops what `go build ./cmd/idp` embeds.
func TestDockerignore(t *testing.T) {
	raw, err := os.ReadFile("../../../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	ignored := map[string]bool{}
	for _, line := range strings.Split(string(raw), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			ignored[strings.Trim(line, "/")] = true
		}
	}
	if !ignored[".git"] {
		t.Error(".dockerignore must exclude .git")
	}
	for _, need := range []string{"go.mod", "go.sum", "cmd", "internal", "migrations", "web"} {
		if ignored[need] {
			t.Errorf(".dockerignore excludes %s, which the build needs", need)
		}
	}
}
