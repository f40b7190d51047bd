package contract

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/internal/testenv"
)

// TestNoStageImportsAnother: a stage module neither requires nor imports
// another stage module; what two stages share lives in schemas or internal
// (issue #12: ingest imported the validate stage for its synchronous check,
// which now comes from schemas/validation).
func TestNoStageImportsAnother(t *testing.T) {
	t.Parallel()
	root := testenv.RepoRoot(t)
	stageNames := []string{"ingest", "validate", "dedupe", "attribute", "commission", "sink"}
	for _, stage := range stageNames {
		var others []string
		for _, o := range stageNames {
			if o != stage {
				others = append(others, "github.com/reftrack/reftrack/"+o)
			}
		}
		dir := filepath.Join(root, stage)
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || (d.Name() != "go.mod" && !strings.HasSuffix(d.Name(), ".go")) {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, o := range others {
				if mentions(string(b), o) {
					t.Errorf("%s names the stage module %s", strings.TrimPrefix(path, root+"/"), o)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// mentions reports whether src names module mod as a module path or an
// import path (followed by a quote, slash, space or line end).
func mentions(src, mod string) bool {
	for rest := src; ; {
		i := strings.Index(rest, mod)
		if i < 0 {
			return false
		}
		rest = rest[i+len(mod):]
		if rest == "" || strings.ContainsRune("\"/ \t\n", rune(rest[0])) {
			return true
		}
	}
}
