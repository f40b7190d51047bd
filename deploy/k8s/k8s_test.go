package k8s

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/reftrack/reftrack/attribute"
	"github.com/reftrack/reftrack/commission"
	"github.com/reftrack/reftrack/dedupe"
	"github.com/reftrack/reftrack/ingest"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/sink"
	"github.com/reftrack/reftrack/validate"
)

// kustomizations are every directory kubectl apply -k may be pointed at.
// complete ones define every Secret they reference, so their configuration
// can be run through the binaries' Validate.
var kustomizations = []struct {
	dir      string
	complete bool
}{
	{"base", false},
	{"overlays/dev", true},
}

// stages are the workloads; inputs is the topic a stage's lag trigger
// watches ("" when the stage reads several and the trigger watches the
// whole group).
var stages = map[string]struct {
	kind  string
	input string
}{
	"ingest":     {"StatefulSet", ""},
	"validate":   {"StatefulSet", schemas.TopicIngested},
	"dedupe":     {"StatefulSet", schemas.TopicValid},
	"attribute":  {"StatefulSet", schemas.TopicUnique},
	"commission": {"StatefulSet", schemas.TopicAttributions},
	"sink":       {"Deployment", ""},
}

func TestManifests(t *testing.T) {
	t.Parallel()
	for _, k := range kustomizations {
		t.Run(k.dir, func(t *testing.T) {
			t.Parallel()
			objs, err := decodeAll(render(t, k.dir))
			if err != nil {
				t.Fatal(err)
			}
			for _, err := range check(objs, k.complete) {
				t.Error(err)
			}
		})
	}
}

func render(t *testing.T, dir string) []byte {
	t.Helper()
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Fatal("kubectl is needed to render the kustomizations: apt-get install -y kubectl")
	}
	var stderr bytes.Buffer
	cmd := exec.Command("kubectl", "kustomize", dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr.Bytes())
	}
	return out
}

// scaledObject is the subset of KEDA's keda.sh/v1alpha1 ScaledObject these
// manifests use, decoded as strictly as the Kubernetes types (KEDA's Go
// module would bring a controller runtime with it). A field KEDA has but
// this struct lacks fails the test: add it here when a manifest needs it.
type scaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ScaleTargetRef struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Name       string `json:"name"`
		} `json:"scaleTargetRef"`
		PollingInterval *int32 `json:"pollingInterval,omitempty"`
		CooldownPeriod  *int32 `json:"cooldownPeriod,omitempty"`
		MinReplicaCount *int32 `json:"minReplicaCount,omitempty"`
		MaxReplicaCount *int32 `json:"maxReplicaCount,omitempty"`
		Triggers        []struct {
			Type              string            `json:"type"`
			Name              string            `json:"name,omitempty"`
			MetricType        string            `json:"metricType,omitempty"`
			Metadata          map[string]string `json:"metadata"`
			AuthenticationRef *struct {
				Name string `json:"name"`
				Kind string `json:"kind,omitempty"`
			} `json:"authenticationRef,omitempty"`
		} `json:"triggers"`
	} `json:"spec"`
}

// kafkaTriggerKeys are the kafka scaler's metadata keys (KEDA 2.x).
var kafkaTriggerKeys = []string{
	"bootstrapServers", "bootstrapServersFromEnv", "consumerGroup", "consumerGroupFromEnv",
	"topic", "topicFromEnv", "lagThreshold", "activationLagThreshold", "offsetResetPolicy",
	"allowIdleConsumers", "scaleToZeroOnInvalidOffset", "excludePersistentLag",
	"limitToPartitionsWithLag", "partitionLimitation", "sasl", "tls", "version",
}

// objects are a rendering, by kind and name.
type objects struct {
	statefulSets map[string]*appsv1.StatefulSet
	deployments  map[string]*appsv1.Deployment
	cronJobs     map[string]*batchv1.CronJob
	services     []*corev1.Service
	configMaps   map[string]*corev1.ConfigMap
	secrets      map[string]*corev1.Secret
	pdbs         []*policyv1.PodDisruptionBudget
	scaled       []*scaledObject
}

// decodeAll decodes every document of a rendering strictly into its type.
func decodeAll(rendered []byte) (*objects, error) {
	o := &objects{statefulSets: map[string]*appsv1.StatefulSet{}, deployments: map[string]*appsv1.Deployment{},
		cronJobs: map[string]*batchv1.CronJob{}, configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	var errs []error
	for i, doc := range bytes.Split(rendered, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", i, err))
			continue
		}
		if err := o.decode(tm, doc); err != nil {
			errs = append(errs, fmt.Errorf("document %d (%s %s): %w", i, tm.APIVersion, tm.Kind, err))
		}
	}
	return o, errors.Join(errs...)
}

func (o *objects) decode(tm metav1.TypeMeta, doc []byte) error {
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 StatefulSet":
		return decodeInto(doc, func(v *appsv1.StatefulSet) { o.statefulSets[v.Name] = v })
	case "apps/v1 Deployment":
		return decodeInto(doc, func(v *appsv1.Deployment) { o.deployments[v.Name] = v })
	case "batch/v1 CronJob":
		return decodeInto(doc, func(v *batchv1.CronJob) { o.cronJobs[v.Name] = v })
	case "v1 Service":
		return decodeInto(doc, func(v *corev1.Service) { o.services = append(o.services, v) })
	case "v1 ConfigMap":
		return decodeInto(doc, func(v *corev1.ConfigMap) { o.configMaps[v.Name] = v })
	case "v1 Secret":
		return decodeInto(doc, func(v *corev1.Secret) { o.secrets[v.Name] = v })
	case "v1 Namespace":
		return decodeInto(doc, func(*corev1.Namespace) {})
	case "policy/v1 PodDisruptionBudget":
		return decodeInto(doc, func(v *policyv1.PodDisruptionBudget) { o.pdbs = append(o.pdbs, v) })
	case "keda.sh/v1alpha1 ScaledObject":
		return decodeInto(doc, func(v *scaledObject) { o.scaled = append(o.scaled, v) })
	}
	return errors.New("a kind this test does not know: add its type to objects.decode")
}

// decodeInto fails on fields the type does not have and on duplicate keys.
func decodeInto[T any](doc []byte, keep func(*T)) error {
	v := new(T)
	if err := yaml.UnmarshalStrict(doc, v); err != nil {
		return err
	}
	keep(v)
	return nil
}

// workload is a stage's pod template, whichever kind carries it.
type workload struct {
	stage, kind, name string
	labels            map[string]string
	pod               corev1.PodSpec
}

func (o *objects) workloads() []workload {
	var out []workload
	for name, s := range o.statefulSets {
		out = append(out, workload{strings.TrimPrefix(name, "reftrack-"), "StatefulSet", name, s.Spec.Template.Labels, s.Spec.Template.Spec})
	}
	for name, d := range o.deployments {
		out = append(out, workload{strings.TrimPrefix(name, "reftrack-"), "Deployment", name, d.Spec.Template.Labels, d.Spec.Template.Spec})
	}
	slices.SortFunc(out, func(a, b workload) int { return strings.Compare(a.name, b.name) })
	return out
}

// check returns every way a rendering disagrees with the binaries.
func check(o *objects, complete bool) []error {
	var errs []error
	seen := map[string]bool{}
	for _, w := range o.workloads() {
		seen[w.stage] = true
		want, ok := stages[w.stage]
		if !ok {
			errs = append(errs, fmt.Errorf("%s %s: no such stage", w.kind, w.name))
			continue
		}
		if w.kind != want.kind {
			errs = append(errs, fmt.Errorf("%s: is a %s, want a %s", w.name, w.kind, want.kind))
		}
		errs = append(errs, o.checkWorkload(w, complete)...)
	}
	for s := range stages {
		if !seen[s] {
			errs = append(errs, fmt.Errorf("stage %s: no workload", s))
		}
	}
	errs = append(errs, o.checkServices()...)
	errs = append(errs, o.checkCronJobs(complete)...)
	return errs
}

func (o *objects) checkWorkload(w workload, complete bool) []error {
	if len(w.pod.Containers) != 1 || w.pod.Containers[0].Name != w.stage {
		return []error{fmt.Errorf("%s: want one container named %s", w.name, w.stage)}
	}
	c := w.pod.Containers[0]
	env, errs := o.environment(w, c, complete)
	b := newBinary(w.stage)
	errs = append(errs, b.checkNames(w.name, c, env)...)
	if complete {
		if err := b.validate(c.Args, env); err != nil {
			errs = append(errs, fmt.Errorf("%s: the binary refuses this configuration: %w", w.name, err))
		}
	}
	errs = append(errs, checkInstance(w, env)...)
	errs = append(errs, checkProbes(w.name, c, b.opsPort())...)
	errs = append(errs, checkMemory(w.name, c, env)...)
	errs = append(errs, o.checkPDB(w)...)
	errs = append(errs, o.checkScaledObject(w, b, env)...)
	if w.stage == "commission" {
		errs = append(errs, o.checkFiles(w, c, b)...)
	}
	return errs
}

// envValue is one variable as the pod would see it; known is false for a
// value only the cluster knows (a Secret this rendering does not define).
type envValue struct {
	value string
	known bool
}

// environment resolves a container's variables as the kubelet would:
// envFrom first, env over it.
func (o *objects) environment(w workload, c corev1.Container, complete bool) (map[string]envValue, []error) {
	env := map[string]envValue{}
	var errs []error
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm, ok := o.configMaps[from.ConfigMapRef.Name]
			if !ok {
				errs = append(errs, fmt.Errorf("%s: envFrom ConfigMap %s is not in the rendering", w.name, from.ConfigMapRef.Name))
				continue
			}
			for k, v := range cm.Data {
				env[k] = envValue{v, true}
			}
		default:
			errs = append(errs, fmt.Errorf("%s: envFrom other than a ConfigMap: reference each secret key by name instead", w.name))
		}
	}
	for _, e := range c.Env {
		v, err := o.resolve(e, complete)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", w.name, e.Name, err))
			continue
		}
		if v != nil {
			env[e.Name] = *v
		}
	}
	return env, errs
}

// resolve returns nil for an optional secret key that is not there.
func (o *objects) resolve(e corev1.EnvVar, complete bool) (*envValue, error) {
	switch {
	case e.ValueFrom == nil:
		return &envValue{e.Value, true}, nil
	case e.ValueFrom.FieldRef != nil:
		if e.ValueFrom.FieldRef.FieldPath != podIndex {
			return nil, fmt.Errorf("fieldRef %s: only the pod index is used", e.ValueFrom.FieldRef.FieldPath)
		}
		return &envValue{"0", true}, nil
	case e.ValueFrom.ConfigMapKeyRef != nil:
		return o.resolveConfigMapKey(e.ValueFrom.ConfigMapKeyRef)
	case e.ValueFrom.SecretKeyRef != nil:
		ref := e.ValueFrom.SecretKeyRef
		optional := ref.Optional != nil && *ref.Optional
		s, ok := o.secrets[ref.Name]
		if !ok {
			if complete && !optional {
				return nil, fmt.Errorf("Secret %s is required and not defined", ref.Name)
			}
			return &envValue{known: false}, nil
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if sv, ok2 := s.StringData[ref.Key]; ok2 {
				return &envValue{sv, true}, nil
			}
			if optional {
				return nil, nil
			}
			return nil, fmt.Errorf("Secret %s has no key %s", ref.Name, ref.Key)
		}
		return &envValue{string(v), true}, nil
	}
	return nil, errors.New("valueFrom of a kind this test does not resolve")
}

const podIndex = "metadata.labels['apps.kubernetes.io/pod-index']"

// binary is a stage's flag set, built by the same calls its main makes.
type binary struct {
	fs       *flag.FlagSet
	validate func(args []string, env map[string]envValue) error
	byEnv    map[string]string // REFTRACK_* → flag name
}

func newBinary(stage string) *binary {
	fs := flag.NewFlagSet(stage, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var check func() error
	if stage == "sink" {
		var c sink.Config
		c.RegisterFlags(fs)
		check = c.Validate
	} else {
		var cfg worker.Config
		cfg.RegisterFlags(fs, stage)
		app := map[string]worker.App{
			"ingest": &ingest.App{}, "validate": &validate.App{}, "dedupe": &dedupe.App{},
			"attribute": &attribute.App{}, "commission": &commission.App{},
		}[stage]
		app.RegisterFlags(fs)
		check = func() error { return errors.Join(cfg.Validate(), app.Validate()) }
	}
	b := &binary{fs: fs, byEnv: map[string]string{}}
	fs.VisitAll(func(f *flag.Flag) { b.byEnv[worker.EnvName(f.Name)] = f.Name })
	b.validate = func(args []string, env map[string]envValue) error {
		getenv := func(k string) string { return env[k].value }
		if err := worker.ParseFlags(fs, args, getenv); err != nil {
			return err
		}
		return check()
	}
	return b
}

func (b *binary) lookup(name string) string {
	if f := b.fs.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

// opsPort is the port of --ops-addr as parsed.
func (b *binary) opsPort() int {
	addr := b.lookup("ops-addr")
	p, _ := strconv.Atoi(addr[strings.LastIndex(addr, ":")+1:])
	return p
}

// checkNames: a REFTRACK_* variable or an argument the binary does not know
// is silently ignored (variables) or fatal at start (arguments); both are a
// setting the operator believes is in force and is not.
func (b *binary) checkNames(name string, c corev1.Container, env map[string]envValue) []error {
	var errs []error
	for k := range env {
		if strings.HasPrefix(k, "REFTRACK_") && b.byEnv[k] == "" {
			errs = append(errs, fmt.Errorf("%s: %s names no flag of %s", name, k, b.fs.Name()))
		}
	}
	if len(c.Command) > 0 {
		errs = append(errs, fmt.Errorf("%s: command overrides the image's entrypoint; use args", name))
	}
	probe := flag.NewFlagSet(b.fs.Name(), flag.ContinueOnError)
	probe.SetOutput(io.Discard)
	b.fs.VisitAll(func(f *flag.Flag) { probe.Var(f.Value, f.Name, f.Usage) })
	if err := probe.Parse(c.Args); err != nil {
		errs = append(errs, fmt.Errorf("%s: args %q: %w", name, c.Args, err))
	} else if probe.NArg() > 0 {
		errs = append(errs, fmt.Errorf("%s: args %q: positional arguments are not flags", name, probe.Args()))
	}
	return errs
}

// checkInstance: a transactional stage's replicas need distinct, stable
// ordinals, or they fence each other (same id) or leave a crashed
// predecessor's transaction open (new id each start).
func checkInstance(w workload, env map[string]envValue) []error {
	var src *corev1.EnvVarSource
	for _, e := range w.pod.Containers[0].Env {
		if e.Name == "REFTRACK_INSTANCE" {
			src = e.ValueFrom
		}
	}
	switch {
	case w.kind == "StatefulSet" && (src == nil || src.FieldRef == nil || src.FieldRef.FieldPath != podIndex):
		return []error{fmt.Errorf("%s: REFTRACK_INSTANCE must come from the pod index (%s)", w.name, podIndex)}
	case w.kind == "Deployment" && env["REFTRACK_INSTANCE"].value != "":
		return []error{fmt.Errorf("%s: a Deployment's replicas cannot have distinct stable instances", w.name)}
	}
	return nil
}

func checkProbes(name string, c corev1.Container, opsPort int) []error {
	var errs []error
	for _, p := range []struct {
		kind, path string
		probe      *corev1.Probe
	}{{"readiness", "/readyz", c.ReadinessProbe}, {"liveness", "/healthz", c.LivenessProbe}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			errs = append(errs, fmt.Errorf("%s: no HTTP %s probe", name, p.kind))
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			errs = append(errs, fmt.Errorf("%s: %s probe on %s, want %s", name, p.kind, p.probe.HTTPGet.Path, p.path))
		}
		if port := containerPort(c, p.probe.HTTPGet.Port); port != opsPort {
			errs = append(errs, fmt.Errorf("%s: %s probe on port %d, the ops port is %d", name, p.kind, port, opsPort))
		}
	}
	return errs
}

func containerPort(c corev1.Container, p intstr.IntOrString) int {
	if p.Type == intstr.Int {
		return p.IntValue()
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort)
		}
	}
	return -1
}

// checkMemory: GOMEMLIMIT between 70 % and 95 % of the memory limit: over
// it the kernel kills the pod before the GC tries harder, far under it the
// pod pays for memory the heap may never use.
func checkMemory(name string, c corev1.Container, env map[string]envValue) []error {
	limit, ok := c.Resources.Limits[corev1.ResourceMemory]
	if !ok {
		return []error{fmt.Errorf("%s: no memory limit", name)}
	}
	soft, err := parseGoMemLimit(env["GOMEMLIMIT"].value)
	if err != nil {
		return []error{fmt.Errorf("%s: GOMEMLIMIT: %w", name, err)}
	}
	if lo, hi := limit.Value()*70/100, limit.Value()*95/100; soft < lo || soft > hi {
		return []error{fmt.Errorf("%s: GOMEMLIMIT %d bytes, want 70..95 %% of the %s limit (%d..%d)", name, soft, limit.String(), lo, hi)}
	}
	if req, ok := c.Resources.Requests[corev1.ResourceMemory]; !ok || req.Cmp(limit) != 0 {
		return []error{fmt.Errorf("%s: memory request should equal the limit (%s), so the scheduler reserves what GOMEMLIMIT lets the heap use", name, limit.String())}
	}
	return nil
}

// parseGoMemLimit reads GOMEMLIMIT as the Go runtime does: bytes with an
// optional B, KiB, MiB, GiB or TiB suffix.
func parseGoMemLimit(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive size", s)
	}
	return n * mult, nil
}

func (o *objects) checkPDB(w workload) []error {
	for _, p := range o.pdbs {
		if p.Spec.Selector != nil && selects(p.Spec.Selector.MatchLabels, w.labels) && len(p.Spec.Selector.MatchExpressions) == 0 {
			if p.Spec.MaxUnavailable == nil && p.Spec.MinAvailable == nil {
				return []error{fmt.Errorf("%s: PodDisruptionBudget %s bounds nothing", w.name, p.Name)}
			}
			return nil
		}
	}
	return []error{fmt.Errorf("%s: no PodDisruptionBudget selects its pods", w.name)}
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func (o *objects) checkScaledObject(w workload, b *binary, env map[string]envValue) []error {
	var so *scaledObject
	for _, s := range o.scaled {
		if s.Spec.ScaleTargetRef.Kind == w.kind && s.Spec.ScaleTargetRef.Name == w.name {
			so = s
		}
	}
	if so == nil {
		return []error{fmt.Errorf("%s: no ScaledObject targets it", w.name)}
	}
	var errs []error
	if so.Spec.ScaleTargetRef.APIVersion != "apps/v1" {
		errs = append(errs, fmt.Errorf("ScaledObject %s: scaleTargetRef.apiVersion %q", so.Name, so.Spec.ScaleTargetRef.APIVersion))
	}
	parts, err := strconv.Atoi(so.Annotations["reftrack.io/partitions"])
	if err != nil || so.Spec.MaxReplicaCount == nil || int(*so.Spec.MaxReplicaCount) != parts {
		errs = append(errs, fmt.Errorf("ScaledObject %s: maxReplicaCount must equal its reftrack.io/partitions annotation", so.Name))
	}
	if so.Spec.MinReplicaCount == nil || *so.Spec.MinReplicaCount < 1 {
		errs = append(errs, fmt.Errorf("ScaledObject %s: minReplicaCount ≥ 1 (a stage at zero replicas never sees the lag it should wake on)", so.Name))
	}
	// The group and topics as the binary will see them (env only: args
	// are checked by name, and none are used).
	_ = b.validate(nil, env)
	kafka := 0
	for _, tr := range so.Spec.Triggers {
		if tr.Type != "kafka" {
			continue
		}
		kafka++
		errs = append(errs, checkKafkaTrigger(so.Name, tr.Metadata, b, env, w.stage)...)
	}
	if kafka != 1 {
		errs = append(errs, fmt.Errorf("ScaledObject %s: want one kafka trigger, have %d", so.Name, kafka))
	}
	return errs
}

func checkKafkaTrigger(name string, md map[string]string, b *binary, env map[string]envValue, stage string) []error {
	var errs []error
	for k := range md {
		if !slices.Contains(kafkaTriggerKeys, k) {
			errs = append(errs, fmt.Errorf("ScaledObject %s: kafka trigger has no parameter %q", name, k))
		}
	}
	if v := md["bootstrapServersFromEnv"]; v != "" {
		if _, ok := env[v]; !ok {
			errs = append(errs, fmt.Errorf("ScaledObject %s: bootstrapServersFromEnv %s is not in the container's environment", name, v))
		}
	} else if md["bootstrapServers"] == "" {
		errs = append(errs, fmt.Errorf("ScaledObject %s: no brokers", name))
	}
	if got, want := md["consumerGroup"], b.lookup("group"); got != want {
		errs = append(errs, fmt.Errorf("ScaledObject %s: consumerGroup %q, the stage's group is %q", name, got, want))
	}
	if input := stages[stage].input; md["topic"] != "" || input != "" {
		if want := b.lookup("topic-prefix") + input; md["topic"] != want {
			errs = append(errs, fmt.Errorf("ScaledObject %s: topic %q, the stage reads %q", name, md["topic"], want))
		}
	}
	if md["allowIdleConsumers"] == "true" {
		errs = append(errs, fmt.Errorf("ScaledObject %s: allowIdleConsumers lets replicas exceed partitions", name))
	}
	return errs
}

// checkServices: every Service selects a workload's pods and targets a
// port they have.
func (o *objects) checkServices() []error {
	var errs []error
	for _, s := range o.services {
		var w *workload
		for _, cand := range o.workloads() {
			if selects(s.Spec.Selector, cand.labels) {
				w = &cand
			}
		}
		if w == nil {
			errs = append(errs, fmt.Errorf("Service %s selects no workload", s.Name))
			continue
		}
		for _, p := range s.Spec.Ports {
			if containerPort(w.pod.Containers[0], p.TargetPort) < 0 {
				errs = append(errs, fmt.Errorf("Service %s: targetPort %s is no port of %s", s.Name, p.TargetPort.String(), w.name))
			}
		}
	}
	return errs
}
