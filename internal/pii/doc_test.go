package pii

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/internal/testenv"
)

// TestPrivacyDocNamesRealTests: every test PRIVACY.md cites as holding a
// control exists, so the page cannot drift from the code.
func TestPrivacyDocNamesRealTests(t *testing.T) {
	t.Parallel()
	root := testenv.RepoRoot(t)
	doc, err := os.ReadFile(filepath.Join(root, "PRIVACY.md"))
	if err != nil {
		t.Fatal(err)
	}
	var sources strings.Builder
	for _, dir := range []string{"internal/pii", "sink", "deploy/cmd/reftrack", "ingest", "validate", "schemas/validation", "deploy/e2e"} {
		files, _ := filepath.Glob(filepath.Join(root, dir, "*_test.go"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			sources.Write(b)
		}
	}
	cited := regexp.MustCompile("`((?:Test|Fuzz|Benchmark)[A-Za-z0-9_]+)`").FindAllStringSubmatch(string(doc), -1)
	if len(cited) < 10 {
		t.Fatalf("PRIVACY.md cites %d tests; the pattern is broken", len(cited))
	}
	for _, c := range cited {
		if !strings.Contains(sources.String(), "func "+c[1]+"(") {
			t.Errorf("PRIVACY.md cites %s, which no test of internal/pii, sink, deploy/cmd/reftrack, ingest, validate, schemas/validation or deploy/e2e defines", c[1])
		}
	}
}
