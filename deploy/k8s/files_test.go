package k8s

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/reftrack/reftrack/commission"
	"github.com/reftrack/reftrack/commission/ops"
	"github.com/reftrack/reftrack/internal/worker"
)

// commissionFiles are the files the commission stage reads by flag, each
// with the loader the stage runs at start: every one is set in the
// manifests (the reference data the README documents is deployed) and
// must point into a ConfigMap mounted as a directory, whose copy loads.
var commissionFiles = []struct {
	flag string
	load func(path string) error
}{
	{"rules", loadV2Rules},
	{"licences", func(p string) error { _, err := commission.LoadLicences(p); return err }},
	{"fx-rates", func(p string) error { _, err := commission.LoadRates(p); return err }},
}

// loadV2Rules: a v1 rule set still loads, but only as far as v2 reads it
// the same (commission/README.md, v1 files): a manifest shows the v2 form,
// which operators copy.
func loadV2Rules(path string) error {
	rs, err := commission.LoadRules(path)
	if err != nil {
		return err
	}
	if rs.SchemaVersion < 2 {
		return fmt.Errorf("schema_version %d: deploy a v2 rule set", rs.SchemaVersion)
	}
	return nil
}

// checkFiles: each file flag of the commission pod names a mounted
// ConfigMap key that loads as the worker would load it at start.
func (o *objects) checkFiles(w workload, c corev1.Container, b *binary) []error {
	var errs []error
	for _, f := range commissionFiles {
		path := b.lookup(f.flag)
		if path == "" {
			errs = append(errs, fmt.Errorf("%s: --%s is not set: the stage would run without it", w.name, f.flag))
			continue
		}
		data, err := o.mounted(w, c, path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: --%s %s: %w", w.name, f.flag, path, err))
			continue
		}
		if err := loadFile(data, f.load); err != nil {
			errs = append(errs, fmt.Errorf("%s: the mounted %s does not load: %w", w.name, filepath.Base(path), err))
		}
	}
	return errs
}

// mounted is the content of path in the pod: a key of a ConfigMap of this
// rendering mounted as the path's directory.
func (o *objects) mounted(w workload, c corev1.Container, path string) (string, error) {
	for _, m := range c.VolumeMounts {
		if filepath.Dir(path) != filepath.Clean(m.MountPath) {
			continue
		}
		if m.SubPath != "" {
			return "", errors.New("mounted with subPath, which never sees ConfigMap updates: no hot reload")
		}
		for _, v := range w.pod.Volumes {
			if v.Name != m.Name || v.ConfigMap == nil {
				continue
			}
			cm, ok := o.configMaps[v.ConfigMap.Name]
			if !ok {
				return "", fmt.Errorf("ConfigMap %s is not in the rendering", v.ConfigMap.Name)
			}
			data, ok := cm.Data[filepath.Base(path)]
			if !ok {
				return "", fmt.Errorf("ConfigMap %s has no %s", cm.Name, filepath.Base(path))
			}
			return data, nil
		}
	}
	return "", fmt.Errorf("no ConfigMap volume mounted at %s", filepath.Dir(path))
}

func loadFile(data string, load func(string) error) error {
	f, err := os.CreateTemp("", "mounted-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(data); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return load(f.Name())
}

// resolveConfigMapKey: one key of a ConfigMap of the rendering; nil for an
// optional key that is not there.
func (o *objects) resolveConfigMapKey(ref *corev1.ConfigMapKeySelector) (*envValue, error) {
	optional := ref.Optional != nil && *ref.Optional
	cm, ok := o.configMaps[ref.Name]
	if !ok {
		if optional {
			return nil, nil
		}
		return nil, fmt.Errorf("ConfigMap %s is not in the rendering", ref.Name)
	}
	v, ok := cm.Data[ref.Key]
	if !ok {
		if optional {
			return nil, nil
		}
		return nil, fmt.Errorf("ConfigMap %s has no key %s", ref.Name, ref.Key)
	}
	return &envValue{v, true}, nil
}

// cronCommands are the reftrack CLI commands a CronJob may run, by their
// first arguments, with the command's flag set and its check.
var cronCommands = map[string]func() (*flag.FlagSet, func() error){
	"fraud velocity": ops.VelocityFlags,
}

// cliImage is the operators' CLI (deploy/cmd/reftrack) a CronJob runs.
const cliImage = "reftrack/reftrack"

// checkCronJobs: a CronJob runs a reftrack command whose flags and
// variables are the command's, and whose configuration it accepts.
func (o *objects) checkCronJobs(complete bool) []error {
	var errs []error
	names := make([]string, 0, len(o.cronJobs))
	for n := range o.cronJobs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		errs = append(errs, o.checkCronJob(o.cronJobs[n], complete)...)
	}
	return errs
}

func (o *objects) checkCronJob(cj *batchv1.CronJob, complete bool) []error {
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		return []error{fmt.Errorf("CronJob %s: want one container", cj.Name)}
	}
	c := pod.Containers[0]
	var errs []error
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		errs = append(errs, fmt.Errorf("CronJob %s: concurrencyPolicy %q, want Forbid: a slow run overlapped by the next repeats its work", cj.Name, cj.Spec.ConcurrencyPolicy))
	}
	if image, _, _ := strings.Cut(c.Image, ":"); !strings.HasSuffix(image, cliImage) {
		errs = append(errs, fmt.Errorf("CronJob %s: image %s, want the reftrack CLI (%s)", cj.Name, c.Image, cliImage))
	}
	if len(c.Args) < 2 || cronCommands[c.Args[0]+" "+c.Args[1]] == nil {
		return append(errs, fmt.Errorf("CronJob %s: args %q name no reftrack command a CronJob runs", cj.Name, c.Args))
	}
	w := workload{stage: c.Args[0] + " " + c.Args[1], kind: "CronJob", name: cj.Name, labels: cj.Spec.JobTemplate.Spec.Template.Labels, pod: pod}
	env, envErrs := o.environment(w, c, complete)
	errs = append(errs, envErrs...)
	fs, validate := cronCommands[w.stage]()
	fs.SetOutput(io.Discard)
	b := &binary{fs: fs, byEnv: map[string]string{}}
	fs.VisitAll(func(f *flag.Flag) { b.byEnv[worker.EnvName(f.Name)] = f.Name })
	flags := c
	flags.Args = c.Args[2:]
	errs = append(errs, b.checkNames(cj.Name, flags, env)...)
	if complete {
		getenv := func(k string) string { return env[k].value }
		if err := errors.Join(worker.ParseFlags(fs, flags.Args, getenv), validate()); err != nil {
			errs = append(errs, fmt.Errorf("CronJob %s: the command refuses this configuration: %w", cj.Name, err))
		}
	}
	return append(errs, checkMemory("CronJob "+cj.Name, c, env)...)
}
