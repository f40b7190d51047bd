package dedupe

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestREADMEListsFlagsAndMetrics: the README's flag and metric lists are
// written by hand, so this keeps them from drifting from the code.
func TestREADMEListsFlagsAndMetrics(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	var app App
	fs := flag.NewFlagSet("dedupe", flag.ContinueOnError)
	app.RegisterFlags(fs)
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(readme, "`--"+f.Name+"`") {
			t.Errorf("README.md does not list --%s (%s)", f.Name, f.Usage)
		}
	})
	reg := prometheus.NewRegistry()
	NewMetrics(reg)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if !strings.Contains(readme, "`"+mf.GetName()+"`") {
			t.Errorf("README.md does not list metric %s", mf.GetName())
		}
	}
}
