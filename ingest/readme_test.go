package ingest

import (
	"flag"
	"os"
	"strings"
	"testing"
)

// TestREADMEListsFlags: every flag ingest adds to the runtime's is in the
// README, so the documented list cannot drift from the code.
func TestREADMEListsFlags(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var app App
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	app.RegisterFlags(fs)
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Name, "redis") || strings.HasPrefix(f.Name, "pii-redis") { // documented as `--redis*`, `--pii-redis*`
			return
		}
		if !strings.Contains(string(readme), "`--"+f.Name+"`") {
			t.Errorf("README.md does not list --%s (%s)", f.Name, f.Usage)
		}
	})
}
