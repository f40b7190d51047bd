package testenv

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// WalkRepo calls fn with every file of the repository that keep accepts,
// by its slash-separated path from the root, with its contents: for tests
// that hold the whole tree to a rule (one launcher, one column list, no
// command deciding about -h). Hidden folders, bin, testdata and
// node_modules are skipped: built, generated or fetched, not written.
func WalkRepo(t testing.TB, keep func(rel string) bool, fn func(rel string, b []byte)) {
	t.Helper()
	root := RepoRoot(t)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "bin" || d.Name() == "testdata" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !keep(rel) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fn(rel, b)
		return nil
	})
	if err != nil {
		t.Fatalf("walk the repository: %v", err)
	}
}
