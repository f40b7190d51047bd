package k8s

import (
	"errors"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestCheckCatches breaks the dev rendering one way at a time and requires
// check to say so: each check of TestManifests can fail.
func TestCheckCatches(t *testing.T) {
	t.Parallel()
	rendered := render(t, "overlays/dev")
	cases := []struct {
		name   string
		mutate func(o *objects)
		want   string
	}{
		{"variable no flag reads", func(o *objects) {
			addEnv(o, "validate", corev1.EnvVar{Name: "REFTRACK_REDIS", Value: "x:6379"})
		}, "REFTRACK_REDIS names no flag of validate"},
		{"common variable one stage lacks", func(o *objects) {
			o.configMaps[cmName(o, "reftrack-common")].Data["REFTRACK_RULES"] = "/x"
		}, "REFTRACK_RULES names no flag of validate"},
		{"unknown argument", func(o *objects) {
			o.statefulSets["reftrack-dedupe"].Spec.Template.Spec.Containers[0].Args = []string{"--dedupe-window=1h"}
		}, "flag provided but not defined"},
		{"value the binary refuses", func(o *objects) {
			addEnv(o, "attribute", corev1.EnvVar{Name: "REFTRACK_PAID_MODEL", Value: "random"})
		}, `--paid-model "random"`},
		{"instance from the pod name", func(o *objects) {
			setEnv(o, "dedupe", "REFTRACK_INSTANCE", corev1.EnvVar{Name: "REFTRACK_INSTANCE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}})
		}, "fieldRef metadata.name"},
		{"no instance", func(o *objects) {
			setEnv(o, "commission", "REFTRACK_INSTANCE", corev1.EnvVar{Name: "REFTRACK_OPS_ADDR", Value: ":9100"})
		}, "REFTRACK_INSTANCE must come from the pod index"},
		{"readiness on the API port", func(o *objects) {
			o.statefulSets["reftrack-ingest"].Spec.Template.Spec.Containers[0].ReadinessProbe.HTTPGet.Port = intstr.FromString("http")
		}, "readiness probe on port 8080, the ops port is 9100"},
		{"ops port moved, probes not", func(o *objects) {
			addEnv(o, "validate", corev1.EnvVar{Name: "REFTRACK_OPS_ADDR", Value: ":9200"})
		}, "the ops port is 9200"},
		{"GOMEMLIMIT over the limit", func(o *objects) {
			setEnv(o, "attribute", "GOMEMLIMIT", corev1.EnvVar{Name: "GOMEMLIMIT", Value: "300MiB"})
		}, "GOMEMLIMIT 314572800 bytes"},
		{"limit raised, GOMEMLIMIT not", func(o *objects) {
			o.deployments["reftrack-sink"].Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory] = resource.MustParse("1Gi")
		}, "want 70..95 % of the 1Gi limit"},
		{"missing required secret", func(o *objects) {
			delete(o.secrets, secretName(o, "reftrack-clickhouse"))
		}, "Secret reftrack-clickhouse"},
		{"no PodDisruptionBudget", func(o *objects) {
			o.pdbs = o.pdbs[:0]
		}, "no PodDisruptionBudget selects its pods"},
		{"replicas beyond partitions", func(o *objects) {
			n := int32(40)
			o.scaled[0].Spec.MaxReplicaCount = &n
		}, "maxReplicaCount must equal its reftrack.io/partitions annotation"},
		{"lag of another group", func(o *objects) {
			for _, s := range o.scaled {
				if s.Name == "reftrack-dedupe" {
					s.Spec.Triggers[0].Metadata["consumerGroup"] = "reftrack-validate"
				}
			}
		}, `consumerGroup "reftrack-validate", the stage's group is "reftrack-dedupe"`},
		{"topic prefix not followed", func(o *objects) {
			o.configMaps[cmName(o, "reftrack-common")].Data["REFTRACK_TOPIC_PREFIX"] = "staging."
		}, `the stage reads "staging.referrals.ingested"`},
		{"rules through subPath", func(o *objects) {
			o.statefulSets["reftrack-commission"].Spec.Template.Spec.Containers[0].VolumeMounts[0].SubPath = "rules.json"
		}, "never sees ConfigMap updates"},
		{"rule set that does not load", func(o *objects) {
			o.configMaps["reftrack-commission-rules"].Data["rules.json"] = `{"version": "x", "rules": []}`
		}, "the mounted rules.json does not load"},
		{"v1 rule set", func(o *objects) {
			o.configMaps["reftrack-commission-rules"].Data["rules.json"] = `{"version": "x", "rules": [{"id": "all", "when": "true", "amount": {"percent": "5"}}]}`
		}, "schema_version 0: deploy a v2 rule set"},
		{"licences flag dropped", func(o *objects) {
			setEnv(o, "commission", "REFTRACK_LICENCES", corev1.EnvVar{Name: "GOGC", Value: "200"})
		}, "--licences is not set"},
		{"rates not mounted", func(o *objects) {
			c := container(o, "commission")
			c.VolumeMounts = slices.DeleteFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == "fx-rates" })
		}, "--fx-rates /etc/reftrack/fx-rates/rates.json: no ConfigMap volume mounted at /etc/reftrack/fx-rates"},
		{"licence registry that does not load", func(o *objects) {
			o.configMaps["reftrack-commission-licences"].Data["licences.json"] = `{"schema_version": 1, "version": "x", "payees": {"agent:A-1": {"licences": [{"jurisdiction": "US-CA", "lines": ["auto"], "effective_on": "2025-01-01", "expiry": "2026-01-01"}]}}}`
		}, "the mounted licences.json does not load"},
		{"velocity argument it does not take", func(o *objects) {
			cronContainer(o).Args = append(cronContainer(o).Args, "--since=1h")
		}, "flag provided but not defined: -since"},
		{"velocity setting it refuses", func(o *objects) {
			cronContainer(o).Args = []string{"fraud", "velocity", "--max=0"}
		}, "the command refuses this configuration: --max 0"},
		{"velocity variable no flag reads", func(o *objects) {
			c := cronContainer(o)
			c.Env = append(c.Env, corev1.EnvVar{Name: "REFTRACK_REDIS", Value: "x:6379"})
		}, "REFTRACK_REDIS names no flag of fraud velocity"},
		{"velocity without its database", func(o *objects) {
			delete(o.secrets, secretName(o, "reftrack-clickhouse"))
		}, "reftrack-fraud-velocity: REFTRACK_CLICKHOUSE: Secret reftrack-clickhouse-"},
		{"a CronJob running a stage image", func(o *objects) {
			cronContainer(o).Image = "localhost/reftrack/commission:dev"
		}, "want the reftrack CLI"},
		{"overlapping runs", func(o *objects) {
			o.cronJobs["reftrack-fraud-velocity"].Spec.ConcurrencyPolicy = "Allow"
		}, `concurrencyPolicy "Allow", want Forbid`},
		{"service to a missing port", func(o *objects) {
			o.services[0].Spec.Ports[0].TargetPort = intstr.FromString("metrics")
		}, "targetPort metrics is no port"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o, err := decodeAll(rendered)
			if err != nil {
				t.Fatal(err)
			}
			if errs := check(o, true); len(errs) > 0 {
				t.Fatalf("the unbroken rendering already fails: %v", errors.Join(errs...))
			}
			c.mutate(o)
			got := errors.Join(check(o, true)...)
			if got == nil || !strings.Contains(got.Error(), c.want) {
				t.Errorf("check = %v, want an error containing %q", got, c.want)
			}
		})
	}
}

// TestDecodeStrict: a misspelt or misplaced field is an error, not a
// setting silently dropped by the API server.
func TestDecodeStrict(t *testing.T) {
	t.Parallel()
	docs := []struct{ name, doc string }{
		{"misspelt probe field", "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      containers:\n      - name: x\n        readinesProbe: {}\n"},
		{"env at pod level", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      env: []\n"},
		{"KEDA field this struct lacks", "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: x}\nspec:\n  maxReplicas: 3\n"},
		{"duplicate key", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: '1', a: '2'}\n"},
		{"unknown kind", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\n"},
	}
	for _, d := range docs {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			if _, err := decodeAll([]byte(d.doc)); err == nil {
				t.Errorf("decoded without error:\n%s", d.doc)
			}
		})
	}
}

func cronContainer(o *objects) *corev1.Container {
	return &o.cronJobs["reftrack-fraud-velocity"].Spec.JobTemplate.Spec.Template.Spec.Containers[0]
}

func container(o *objects, stage string) *corev1.Container {
	if s, ok := o.statefulSets["reftrack-"+stage]; ok {
		return &s.Spec.Template.Spec.Containers[0]
	}
	return &o.deployments["reftrack-"+stage].Spec.Template.Spec.Containers[0]
}

func addEnv(o *objects, stage string, e corev1.EnvVar) {
	c := container(o, stage)
	c.Env = append(c.Env, e)
}

// setEnv replaces the variable called name with e.
func setEnv(o *objects, stage, name string, e corev1.EnvVar) {
	c := container(o, stage)
	for i := range c.Env {
		if c.Env[i].Name == name {
			c.Env[i] = e
		}
	}
}

// cmName and secretName find a generated object by its name before the
// hash suffix.
func cmName(o *objects, prefix string) string {
	for n := range o.configMaps {
		if strings.HasPrefix(n, prefix+"-") || n == prefix {
			return n
		}
	}
	return ""
}

func secretName(o *objects, prefix string) string {
	for n := range o.secrets {
		if strings.HasPrefix(n, prefix+"-") {
			return n
		}
	}
	return ""
}
