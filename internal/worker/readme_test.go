package worker

import (
	"flag"
	"os"
	"strings"
	"testing"
)

// TestREADMEListsRuntimeFlags keeps internal/README.md's flag list from
// drifting from the flags the runtime registers.
func TestREADMEListsRuntimeFlags(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	var c Config
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	c.RegisterFlags(fs, "x")
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(readme, "`--"+f.Name+"`") {
			t.Errorf("internal/README.md does not list --%s", f.Name)
		}
	})
}
