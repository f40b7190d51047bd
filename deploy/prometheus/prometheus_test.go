package prometheus

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// errNoPromtool is test.sh's exit 3: promtool missing and not installable.
const exitNoPromtool = 3

// runTests runs test.sh on the rules in dir; skip reports promtool missing.
func runTests(t *testing.T, dir string) (out string, err error) {
	t.Helper()
	script, _ := filepath.Abs("test.sh")
	cmd := exec.Command(script, dir)
	b, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == exitNoPromtool {
		t.Skipf("promtool is missing and could not be installed (apt-get install -y prometheus): the alert rules were NOT checked\n%s", b)
	}
	return string(b), err
}

func TestAlertRules(t *testing.T) {
	t.Parallel()
	dir, _ := filepath.Abs(".")
	if out, err := runTests(t, dir); err != nil {
		t.Fatalf("promtool: %v\n%s", err, out)
	}
}

// TestAlertTestsCatch breaks alerts.yml one way at a time: the unit tests
// must fail on each, or they are not testing that part of the rule.
func TestAlertTestsCatch(t *testing.T) {
	t.Parallel()
	rules, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile("alerts_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, from, to string }{
		{"lag summed over replicas", "sum by (stage) (max by (stage, topic, partition) (reftrack_consumer_lag_records))", "sum by (stage) (reftrack_consumer_lag_records)"},
		{"lag alert ignores the trend", "and\n          deriv(reftrack:consumer_lag_records:sum{stage!=\"sink\"}[10m]) > 0", "and\n          reftrack:consumer_lag_records:sum{stage!=\"sink\"} > 0"},
		{"sink counted as a stage", `{stage!="sink"}`, ``},
		{"aborts not counted", `outcome=~"aborted|failed"`, `outcome="failed"`},
		{"dead letters per reason", "sum by (stage) (rate(reftrack_records_rejected_total[10m]))", "sum by (stage, code) (rate(reftrack_records_rejected_total[10m]))"},
		{"4xx counted as errors", `status=~"5.."`, `status=~"[45].."`},
		{"refusals forgotten fast", `{outcome="refused"}[1h]`, `{outcome="refused"}[5m]`},
		{"readiness of other namespaces", `pod=~"reftrack-.*"`, `pod=~".*"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if !strings.Contains(string(rules), c.from) {
				t.Fatalf("alerts.yml no longer contains %q: update this case", c.from)
			}
			dir := t.TempDir()
			broken := strings.ReplaceAll(string(rules), c.from, c.to)
			write(t, filepath.Join(dir, "alerts.yml"), broken)
			write(t, filepath.Join(dir, "alerts_test.yml"), string(tests))
			if out, err := runTests(t, dir); err == nil {
				t.Errorf("the unit tests pass on the broken rules:\n%s", out)
			}
		})
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
