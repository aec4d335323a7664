package validate

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// composeFile is the part of the Compose specification that
// deploy/docker-compose.yml uses. The decode is strict: a key that is not
// here (a typo such as depends-on or healthCheck) fails the test.
type composeFile struct {
	Services map[string]composeService `json:"services"`
	Volumes  map[string]*struct{}      `json:"volumes"`
}

type composeService struct {
	Image string `json:"image"`
	Build *struct {
		Context    string `json:"context"`
		Dockerfile string `json:"dockerfile"`
	} `json:"build"`
	DependsOn map[string]struct {
		Condition string `json:"condition"`
		Restart   bool   `json:"restart"`
	} `json:"depends_on"`
	Environment     map[string]string `json:"environment"`
	Ports           []string          `json:"ports"`
	Volumes         []string          `json:"volumes"`
	ReadOnly        bool              `json:"read_only"`
	SecurityOpt     []string          `json:"security_opt"`
	CapDrop         []string          `json:"cap_drop"`
	Healthcheck     *composeHealth    `json:"healthcheck"`
	StopGracePeriod string            `json:"stop_grace_period"`
	Restart         string            `json:"restart"`
}

type composeHealth struct {
	Test        []string `json:"test"`
	Interval    string   `json:"interval"`
	Timeout     string   `json:"timeout"`
	Retries     int      `json:"retries"`
	StartPeriod string   `json:"start_period"`
}

const composePath = "../../docker-compose.yml"

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	raw, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := strict(raw, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, name := range []string{"flexidp", "postgres"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("docker-compose.yml has no %s service", name)
		}
	}
	return c
}

var interpolation = regexp.MustCompile(`\$\{([A-Z_]+)(?::?[-?][^}]*)?\}`)

// interpolate replaces ${VAR...} with a placeholder, as Compose would with
// the variable set.
func interpolate(s string) string {
	return interpolation.ReplaceAllString(s, "x")
}

func TestComposeHealthchecks(t *testing.T) {
	c := loadCompose(t)
	for name, s := range c.Services {
		h := s.Healthcheck
		if h == nil || len(h.Test) < 2 || (h.Test[0] != "CMD" && h.Test[0] != "CMD-SHELL") {
			t.Errorf("service %s: want a healthcheck with a CMD or CMD-SHELL test, have %+v", name, h)
			continue
		}
		for what, d := range map[string]string{"interval": h.Interval, "timeout": h.Timeout, "start_period": h.StartPeriod} {
			if _, err := time.ParseDuration(d); err != nil {
				t.Errorf("service %s: healthcheck %s %q: %v", name, what, d, err)
			}
		}
		if h.Retries < 1 {
			t.Errorf("service %s: healthcheck retries %d", name, h.Retries)
		}
		if s.Restart == "" {
			t.Errorf("service %s: no restart policy", name)
		}
	}
	idp := c.Services["flexidp"]
	if got := strings.Join(idp.Healthcheck.Test, " "); got != "CMD "+imageBinary(t)+" healthcheck" {
		t.Errorf("flexidp healthcheck runs %q, want the image's own `idp healthcheck` (the image has no shell or curl)", got)
	}
}

func TestComposeDependsOnHealthyDatabase(t *testing.T) {
	c := loadCompose(t)
	idp := c.Services["flexidp"]
	dep, ok := idp.DependsOn["postgres"]
	if !ok || dep.Condition != "service_healthy" {
		t.Errorf("flexidp depends_on postgres %+v: want condition service_healthy", dep)
	}
	u, err := url.Parse(interpolate(idp.Environment["IDP_DATABASE_URL"]))
	if err != nil {
		t.Fatalf("IDP_DATABASE_URL: %v", err)
	}
	if _, ok := c.Services[u.Hostname()]; !ok || u.Scheme != "postgres" {
		t.Errorf("IDP_DATABASE_URL points at %s://%s, want the postgres service", u.Scheme, u.Hostname())
	}
	pg := c.Services["postgres"]
	if u.Path != "/"+pg.Environment["POSTGRES_DB"] || u.User.Username() != pg.Environment["POSTGRES_USER"] {
		t.Errorf("IDP_DATABASE_URL names database %s as %s; the postgres service creates %s for %s",
			u.Path, u.User.Username(), pg.Environment["POSTGRES_DB"], pg.Environment["POSTGRES_USER"])
	}
	for _, v := range pg.Volumes {
		name, _, _ := strings.Cut(v, ":")
		if _, ok := c.Volumes[name]; !strings.HasPrefix(name, ".") && !strings.HasPrefix(name, "/") && !ok {
			t.Errorf("postgres mounts volume %q, which is not declared", name)
		}
	}
}

func TestComposeHardening(t *testing.T) {
	c := loadCompose(t)
	idp := c.Services["flexidp"]
	if !idp.ReadOnly {
		t.Error("flexidp: want read_only: true (the image needs no writable root filesystem)")
	}
	if !slices.Equal(idp.CapDrop, []string{"ALL"}) {
		t.Errorf("flexidp: cap_drop %v, want [ALL]", idp.CapDrop)
	}
	if !slices.Contains(idp.SecurityOpt, "no-new-privileges:true") {
		t.Errorf("flexidp: security_opt %v, want no-new-privileges:true", idp.SecurityOpt)
	}
	if idp.Build == nil || filepath.Clean(filepath.Join("../..", idp.Build.Context, idp.Build.Dockerfile)) != filepath.Clean(dockerfilePath) {
		t.Errorf("flexidp: build %+v does not name the repository's Dockerfile", idp.Build)
	}
	// Docker's default stop timeout (10s) would SIGKILL a drain of 20s.
	drain := 20 * time.Second
	if v := idp.Environment["IDP_SHUTDOWN_TIMEOUT"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("IDP_SHUTDOWN_TIMEOUT %q: %v", v, err)
		}
		drain = d
	}
	if grace, err := time.ParseDuration(idp.StopGracePeriod); err != nil || grace <= drain {
		t.Errorf("flexidp: stop_grace_period %q must exceed IDP_SHUTDOWN_TIMEOUT %s", idp.StopGracePeriod, drain)
	}
	// With IDP_TRUST_PROXY, anyone who reaches the port directly can forge
	// X-Forwarded-For and dodge the per-address back-off.
	if idp.Environment["IDP_TRUST_PROXY"] == "true" {
		for _, p := range idp.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") && !strings.HasPrefix(p, "[::1]:") {
				t.Errorf("flexidp publishes %q to every interface while trusting X-Forwarded-For; publish on 127.0.0.1 only", p)
			}
		}
	}
	for _, key := range []string{"IDP_KEY_ENCRYPTION_KEY", "IDP_BASE_URL"} {
		if v := idp.Environment[key]; !strings.Contains(v, "${"+key+":?") {
			t.Errorf("flexidp: %s = %q, want it required from the environment (${%s:?...})", key, v, key)
		}
	}
	known := idpVariables(t)
	for k := range idp.Environment {
		if strings.HasPrefix(k, "IDP_") && !known[k] {
			t.Errorf("flexidp: %s is not a variable flexidp reads", k)
		}
	}
}
