package validate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// manifestDir is deploy/kubernetes, seen from this package.
const manifestDir = ".."

// strict decodes YAML into v as the API server does: field names match
// case-sensitively (encoding/json would accept readOnlyRootFileSystem),
// and duplicate keys or fields v's type does not have are errors.
func strict(doc []byte, v any) error {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strictErrs, err := kjson.UnmarshalStrict(js, v, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

// kinds maps apiVersion/kind to a new object of its official type. A kind
// missing here is refused: add it with its type, never as a map.
var kinds = map[string]func() any{
	"v1/Namespace":                  func() any { return new(corev1.Namespace) },
	"v1/ConfigMap":                  func() any { return new(corev1.ConfigMap) },
	"v1/Secret":                     func() any { return new(corev1.Secret) },
	"v1/Service":                    func() any { return new(corev1.Service) },
	"apps/v1/Deployment":            func() any { return new(appsv1.Deployment) },
	"policy/v1/PodDisruptionBudget": func() any { return new(policyv1.PodDisruptionBudget) },
}

// manifests holds every object of deploy/kubernetes, decoded.
type manifests struct {
	files      []string // base names of the manifest files
	deployment *appsv1.Deployment
	service    *corev1.Service
	pdb        *policyv1.PodDisruptionBudget
	namespaces map[string]*corev1.Namespace
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

func load(t *testing.T) *manifests {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(manifestDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := &manifests{namespaces: map[string]*corev1.Namespace{}, configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	for _, p := range paths {
		if filepath.Base(p) == "kustomization.yaml" {
			continue
		}
		m.files = append(m.files, filepath.Base(p))
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range docSep.Split(string(raw), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			where := fmt.Sprintf("%s (document %d)", filepath.Base(p), i+1)
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			newObj, ok := kinds[tm.APIVersion+"/"+tm.Kind]
			if !ok {
				t.Fatalf("%s: apiVersion %q kind %q is not a type this check knows", where, tm.APIVersion, tm.Kind)
			}
			obj := newObj()
			if err := strict([]byte(doc), obj); err != nil {
				t.Fatalf("%s: not a valid %s: %v", where, tm.Kind, err)
			}
			if err := m.add(obj); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
		}
	}
	if m.deployment == nil || m.service == nil || m.pdb == nil {
		t.Fatalf("deploy/kubernetes must hold a Deployment, a Service and a PodDisruptionBudget")
	}
	return m
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func (m *manifests) add(obj any) error {
	var name string
	var err error
	switch o := obj.(type) {
	case *appsv1.Deployment:
		name, err = o.Name, setOnce(&m.deployment, o, "Deployment")
	case *corev1.Service:
		name, err = o.Name, setOnce(&m.service, o, "Service")
	case *policyv1.PodDisruptionBudget:
		name, err = o.Name, setOnce(&m.pdb, o, "PodDisruptionBudget")
	case *corev1.Namespace:
		name, m.namespaces[o.Name] = o.Name, o
	case *corev1.ConfigMap:
		name, m.configMaps[o.Name] = o.Name, o
	case *corev1.Secret:
		name, m.secrets[o.Name] = o.Name, o
	}
	if err == nil && name == "" {
		err = fmt.Errorf("metadata.name is missing")
	}
	return err
}

// setOnce stores o in *dst, refusing a second object of the kind.
func setOnce[T any](dst **T, o *T, kind string) error {
	if *dst != nil {
		return fmt.Errorf("a second %s: one is expected", kind)
	}
	*dst = o
	return nil
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// container is the flexidp container of the Deployment.
func (m *manifests) container(t *testing.T) corev1.Container {
	t.Helper()
	cs := m.deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("the pod has %d containers, want 1", len(cs))
	}
	return cs[0]
}

func TestDeploymentReplicasAndSelector(t *testing.T) {
	m := load(t)
	d := m.deployment
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("replicas = %d, want at least 2", ptrOr(d.Spec.Replicas, 1))
	}
	pod := labels.Set(d.Spec.Template.Labels)
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(pod) {
		t.Errorf("Deployment selector %v does not match its pod labels %v (%v)", d.Spec.Selector, pod, err)
	}
	if ru := d.Spec.Strategy.RollingUpdate; d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil ||
		ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Errorf("strategy %+v: want a rolling update with maxUnavailable 0", d.Spec.Strategy)
	}
	c := m.container(t)
	if len(c.Args) == 0 || c.Args[0] != "serve" || c.Image == "" {
		t.Errorf("container runs image %q with args %v, want `serve`", c.Image, c.Args)
	}
}

func TestDeploymentSpreadsReplicas(t *testing.T) {
	m := load(t)
	spec := m.deployment.Spec.Template.Spec
	pod := labels.Set(m.deployment.Spec.Template.Labels)
	spread := map[string]bool{}
	for _, c := range spec.TopologySpreadConstraints {
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err != nil || sel.Empty() || !sel.Matches(pod) {
			t.Errorf("topology spread on %s: selector does not match the pod labels", c.TopologyKey)
		}
		spread[c.TopologyKey] = true
	}
	anti := spec.Affinity != nil && spec.Affinity.PodAntiAffinity != nil
	if !spread[corev1.LabelHostname] && !anti {
		t.Errorf("replicas are not spread across nodes: want a topology spread constraint on %s or pod anti-affinity", corev1.LabelHostname)
	}
}

func TestDeploymentProbes(t *testing.T) {
	m := load(t)
	c := m.container(t)
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	http, ok := ports["http"]
	if !ok {
		t.Fatalf("container has no port named http: %v", c.Ports)
	}
	if listen := m.configValue(t, c, "IDP_LISTEN"); listen != fmt.Sprintf(":%d", http) {
		t.Errorf("IDP_LISTEN = %q but the container port is %d", listen, http)
	}
	if metrics := m.configValue(t, c, "IDP_METRICS_LISTEN"); metrics != "" {
		if got := fmt.Sprintf(":%d", ports["metrics"]); metrics != got {
			t.Errorf("IDP_METRICS_LISTEN = %q, but the container port named metrics is %q", metrics, got)
		}
	}
	for _, tc := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
		{"livenessProbe", c.LivenessProbe, "/healthz"},
		{"startupProbe", c.StartupProbe, "/healthz"},
	} {
		if tc.probe == nil || tc.probe.HTTPGet == nil {
			t.Errorf("%s: want an HTTP GET of %s", tc.name, tc.path)
			continue
		}
		g := tc.probe.HTTPGet
		if g.Path != tc.path {
			t.Errorf("%s: path %q, want %q", tc.name, g.Path, tc.path)
		}
		if port := resolvePort(g.Port, ports); port != http {
			t.Errorf("%s: port %s is %d, want the container's http port %d", tc.name, g.Port.String(), port, http)
		}
	}
	// Liveness must not depend on the database, or an outage restarts
	// every replica at once.
	if c.LivenessProbe != nil && c.LivenessProbe.HTTPGet != nil && c.LivenessProbe.HTTPGet.Path == "/readyz" {
		t.Error("the liveness probe must not check the database")
	}
}

// resolvePort turns a probe's or Service's port (number or name) into a
// container port number, 0 if it names none.
func resolvePort(p intstr.IntOrString, named map[string]int32) int32 {
	if p.Type == intstr.Int {
		for _, n := range named {
			if n == p.IntVal {
				return n
			}
		}
		return 0
	}
	return named[p.StrVal]
}

func TestDeploymentResources(t *testing.T) {
	m := load(t)
	r := m.container(t).Resources
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := r.Requests[name]; !ok || q.IsZero() {
			t.Errorf("no %s request", name)
		}
	}
	limit, ok := r.Limits[corev1.ResourceMemory]
	if !ok {
		t.Fatal("no memory limit")
	}
	if req := r.Requests[corev1.ResourceMemory]; limit.Cmp(req) < 0 {
		t.Errorf("memory limit %s is below the request %s", limit.String(), req.String())
	}
	// The password-hashing budget must fit in the limit with room for the
	// rest of the process.
	var budget int64
	if _, err := fmt.Sscan(m.configValue(t, m.container(t), "IDP_HASH_MEMORY_MIB"), &budget); err != nil {
		t.Fatalf("IDP_HASH_MEMORY_MIB: %v", err)
	}
	if budget<<20 > limit.Value()*3/4 {
		t.Errorf("IDP_HASH_MEMORY_MIB %d MiB leaves too little of the %s memory limit", budget, limit.String())
	}
}

func TestDeploymentSecurityContext(t *testing.T) {
	m := load(t)
	spec := m.deployment.Spec.Template.Spec
	sc := m.container(t).SecurityContext
	if sc == nil {
		t.Fatal("the container has no securityContext")
	}
	psc := spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	check := func(what string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("securityContext: want %s", what)
		}
	}
	isTrue := func(b *bool) bool { return b != nil && *b }
	isFalse := func(b *bool) bool { return b != nil && !*b }
	check("runAsNonRoot: true", isTrue(sc.RunAsNonRoot) || isTrue(psc.RunAsNonRoot))
	check("a non-zero runAsUser", (sc.RunAsUser == nil || *sc.RunAsUser != 0) && (psc.RunAsUser == nil || *psc.RunAsUser != 0))
	check("readOnlyRootFilesystem: true", isTrue(sc.ReadOnlyRootFilesystem))
	check("allowPrivilegeEscalation: false", isFalse(sc.AllowPrivilegeEscalation))
	check("not privileged", sc.Privileged == nil || !*sc.Privileged)
	check("capabilities drop [ALL] and add none", sc.Capabilities != nil && len(sc.Capabilities.Add) == 0 &&
		len(sc.Capabilities.Drop) == 1 && sc.Capabilities.Drop[0] == "ALL")
	seccomp := sc.SeccompProfile
	if seccomp == nil {
		seccomp = psc.SeccompProfile
	}
	check("seccompProfile RuntimeDefault", seccomp != nil && seccomp.Type == corev1.SeccompProfileTypeRuntimeDefault)
	check("automountServiceAccountToken: false (flexidp does not call the API server)", isFalse(spec.AutomountServiceAccountToken))
	check("no host namespaces", !spec.HostNetwork && !spec.HostPID && !spec.HostIPC)
	for _, v := range spec.Volumes {
		check("no hostPath volume ("+v.Name+")", v.HostPath == nil)
	}
	if ns := m.namespaces["flexidp"]; ns != nil && ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Error(`namespace flexidp: want pod-security.kubernetes.io/enforce: restricted`)
	}
}

func TestDeploymentShutdown(t *testing.T) {
	m := load(t)
	spec := m.deployment.Spec.Template.Spec
	c := m.container(t)
	drain := 20 * time.Second // flexidp's default
	if v := m.configValue(t, c, "IDP_SHUTDOWN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("IDP_SHUTDOWN_TIMEOUT %q: %v", v, err)
		}
		drain = d
	}
	grace := 30 * time.Second // Kubernetes' default
	if spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	}
	var pause time.Duration
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		pause = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	}
	if pause+drain >= grace {
		t.Errorf("preStop %s + IDP_SHUTDOWN_TIMEOUT %s must stay below terminationGracePeriodSeconds %s, or SIGKILL cuts the drain", pause, drain, grace)
	}
}

func TestPodDisruptionBudget(t *testing.T) {
	m := load(t)
	pod := labels.Set(m.deployment.Spec.Template.Labels)
	sel, err := metav1.LabelSelectorAsSelector(m.pdb.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(pod) {
		t.Errorf("PDB selector %v does not match the pod labels %v (%v)", m.pdb.Spec.Selector, pod, err)
	}
	replicas := int(*m.deployment.Spec.Replicas)
	switch {
	case m.pdb.Spec.MinAvailable != nil && m.pdb.Spec.MinAvailable.Type == intstr.Int:
		if n := m.pdb.Spec.MinAvailable.IntValue(); n < 1 || n >= replicas {
			t.Errorf("PDB minAvailable %d: want at least 1 and fewer than the %d replicas, or drains block", n, replicas)
		}
	case m.pdb.Spec.MaxUnavailable != nil && m.pdb.Spec.MaxUnavailable.Type == intstr.Int:
		if n := m.pdb.Spec.MaxUnavailable.IntValue(); n < 1 || n >= replicas {
			t.Errorf("PDB maxUnavailable %d: want at least 1 and fewer than the %d replicas", n, replicas)
		}
	default:
		t.Error("PDB: want an integer minAvailable or maxUnavailable")
	}
}

func TestService(t *testing.T) {
	m := load(t)
	pod := labels.Set(m.deployment.Spec.Template.Labels)
	if sel := labels.SelectorFromSet(m.service.Spec.Selector); len(m.service.Spec.Selector) == 0 || !sel.Matches(pod) {
		t.Errorf("Service selector %v does not match the pod labels %v", m.service.Spec.Selector, pod)
	}
	ports := map[string]int32{}
	for _, p := range m.container(t).Ports {
		ports[p.Name] = p.ContainerPort
	}
	if len(m.service.Spec.Ports) == 0 {
		t.Fatal("the Service has no ports")
	}
	for _, p := range m.service.Spec.Ports {
		target := p.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(p.Port)
		}
		if n := resolvePort(target, ports); n == 0 {
			t.Errorf("Service port %s targets %s, which is no container port", p.Name, target.String())
		} else if n == ports["metrics"] {
			t.Errorf("Service port %s exposes /metrics to the IdP's clients", p.Name)
		}
	}
}

// configValue is the value of an environment variable set from a ConfigMap
// (envFrom or configMapKeyRef) or literally; "" when unset.
func (m *manifests) configValue(t *testing.T, c corev1.Container, name string) string {
	t.Helper()
	for _, e := range c.Env {
		if e.Name != name {
			continue
		}
		if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
			return m.configMaps[e.ValueFrom.ConfigMapKeyRef.Name].Data[e.ValueFrom.ConfigMapKeyRef.Key]
		}
		return e.Value
	}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef != nil {
			if cm := m.configMaps[ef.ConfigMapRef.Name]; cm != nil {
				if v, ok := cm.Data[ef.Prefix+name]; ok {
					return v
				}
			}
		}
	}
	return ""
}

func secretKeys(s *corev1.Secret) map[string]bool {
	keys := map[string]bool{}
	for k := range s.Data {
		keys[k] = true
	}
	for k := range s.StringData {
		keys[k] = true
	}
	return keys
}

// TestEnvironmentReferences checks that every Secret and ConfigMap the pod
// reads exists in the examples with the keys it asks for, that the
// secrets come from the Secret, and that every IDP_* variable is one
// flexidp reads (a typo would be silently ignored).
func TestEnvironmentReferences(t *testing.T) {
	m := load(t)
	c := m.container(t)
	known := idpVariables(t)
	env := map[string]string{} // variable -> where it comes from
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			cm := m.configMaps[ef.ConfigMapRef.Name]
			if cm == nil {
				t.Errorf("envFrom: no ConfigMap %q in the examples", ef.ConfigMapRef.Name)
				continue
			}
			for k := range cm.Data {
				env[ef.Prefix+k] = "configmap"
			}
		case ef.SecretRef != nil:
			s := m.secrets[ef.SecretRef.Name]
			if s == nil {
				t.Errorf("envFrom: no Secret %q in the examples", ef.SecretRef.Name)
				continue
			}
			for k := range secretKeys(s) {
				env[ef.Prefix+k] = "secret"
			}
		}
	}
	for _, e := range c.Env {
		env[e.Name] = "literal"
		if e.ValueFrom == nil {
			continue
		}
		switch ref := e.ValueFrom; {
		case ref.SecretKeyRef != nil:
			env[e.Name] = "secret"
			s := m.secrets[ref.SecretKeyRef.Name]
			switch {
			case s == nil:
				t.Errorf("env %s: no Secret %q in the examples", e.Name, ref.SecretKeyRef.Name)
			case !secretKeys(s)[ref.SecretKeyRef.Key]:
				t.Errorf("env %s: Secret %q has no key %q", e.Name, ref.SecretKeyRef.Name, ref.SecretKeyRef.Key)
			}
		case ref.ConfigMapKeyRef != nil:
			env[e.Name] = "configmap"
			cm := m.configMaps[ref.ConfigMapKeyRef.Name]
			switch {
			case cm == nil:
				t.Errorf("env %s: no ConfigMap %q in the examples", e.Name, ref.ConfigMapKeyRef.Name)
			case cm.Data[ref.ConfigMapKeyRef.Key] == "":
				t.Errorf("env %s: ConfigMap %q has no key %q", e.Name, ref.ConfigMapKeyRef.Name, ref.ConfigMapKeyRef.Key)
			}
		case ref.ResourceFieldRef != nil:
			if ref.ResourceFieldRef.ContainerName != "" && ref.ResourceFieldRef.ContainerName != c.Name {
				t.Errorf("env %s: resourceFieldRef names container %q", e.Name, ref.ResourceFieldRef.ContainerName)
			}
			if _, ok := c.Resources.Limits[corev1.ResourceName(strings.TrimPrefix(ref.ResourceFieldRef.Resource, "limits."))]; strings.HasPrefix(ref.ResourceFieldRef.Resource, "limits.") && !ok {
				t.Errorf("env %s: reads %s, which is not set", e.Name, ref.ResourceFieldRef.Resource)
			}
		}
	}
	for _, name := range []string{"IDP_BASE_URL", "IDP_DATABASE_URL", "IDP_KEY_ENCRYPTION_KEY"} {
		if env[name] == "" {
			t.Errorf("the pod does not set %s", name)
		}
	}
	for _, name := range []string{"IDP_DATABASE_URL", "IDP_KEY_ENCRYPTION_KEY"} {
		if env[name] != "" && env[name] != "secret" {
			t.Errorf("%s comes from a %s, want a Secret", name, env[name])
		}
	}
	var unknown []string
	for name := range env {
		if strings.HasPrefix(name, "IDP_") && !known[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		t.Errorf("variables flexidp does not read (typos?): %v", unknown)
	}
}

var idpVarRE = regexp.MustCompile(`"(IDP_[A-Z0-9_]+)"`)

// idpVariables returns the IDP_* variables flexidp's command reads, from
// its source.
func idpVariables(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "cmd", "idp", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("cannot find cmd/idp: %v", err)
	}
	known := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range idpVarRE.FindAllSubmatch(src, -1) {
			known[string(m[1])] = true
		}
	}
	return known
}

// kustomization is the part of kustomize's Kustomization this directory
// uses; anything else is refused, so a typo does not pass silently.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images"`
}

func TestKustomization(t *testing.T) {
	m := load(t)
	raw, err := os.ReadFile(filepath.Join(manifestDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := strict(raw, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml is %s %s", k.APIVersion, k.Kind)
	}
	if k.Namespace != "" && len(m.namespaces) > 0 && m.namespaces[k.Namespace] == nil {
		t.Errorf("kustomization.yaml puts everything in namespace %q, which no manifest creates", k.Namespace)
	}
	listed := map[string]bool{}
	for _, r := range k.Resources {
		if listed[r] {
			t.Errorf("kustomization.yaml lists %s twice", r)
		}
		listed[r] = true
	}
	for _, f := range m.files {
		if !listed[f] {
			t.Errorf("%s is not in kustomization.yaml's resources", f)
		}
		delete(listed, f)
	}
	for r := range listed {
		t.Errorf("kustomization.yaml lists %s, which does not exist", r)
	}
	c := m.container(t)
	image, _, _ := strings.Cut(c.Image, ":")
	for _, img := range k.Images {
		if img.Name == image {
			return
		}
	}
	t.Errorf("kustomization.yaml has no images entry for %q, so the image cannot be set with kustomize edit set image", image)
}

// TestStrictDecodeRefusesTypos proves the check is strict: a misplaced
// field that YAML accepts fails.
func TestStrictDecodeRefusesTypos(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field":    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replica: 2}\n",
		"misplaced field":  "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {template: {spec: {readOnlyRootFilesystem: true}}}\n",
		"duplicate key":    "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nmetadata: {name: y}\n",
		"wrong value type": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: two}\n",
		"wrong case":       "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {template: {spec: {containers: [{name: c, securityContext: {readOnlyRootFileSystem: true}}]}}}\n",
	} {
		if err := strict([]byte(doc), new(appsv1.Deployment)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
