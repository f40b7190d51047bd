package contract

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/internal/testenv"
)

// layoutRows reads README.md's layout table: folders of the first column →
// the row's text.
func layoutRows(t *testing.T, root string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "## Layout")
	if !ok {
		t.Fatal("README.md has no Layout section")
	}
	rows := map[string]string{}
	for _, line := range strings.Split(after, "\n") {
		if strings.HasPrefix(line, "## ") {
			break
		}
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.Contains(cells[1], "`") {
			continue
		}
		for _, f := range strings.Fields(strings.Trim(strings.TrimSpace(cells[1]), "`")) {
			rows[strings.TrimSuffix(f, "/")] = cells[2]
		}
	}
	return rows
}

// TestREADMELayoutMatchesTheTree: every top-level folder is in the layout
// table, every folder of internal/ and deploy/ (and deploy/cmd/) is named
// in its row, and every path the table names exists (issue #12: the
// layout table and the code cannot drift apart).
func TestREADMELayoutMatchesTheTree(t *testing.T) {
	t.Parallel()
	root := testenv.RepoRoot(t)
	rows := layoutRows(t, root)
	top, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range top {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || e.Name() == "bin" {
			continue
		}
		if _, ok := rows[e.Name()]; !ok {
			t.Errorf("README.md's layout table lacks the folder %s/", e.Name())
		}
	}
	for _, dir := range []string{"internal", "deploy", "deploy/cmd"} {
		row := rows[strings.Split(dir, "/")[0]]
		entries, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			name := e.Name()
			if dir == "deploy/cmd" {
				name = "cmd/" + name
			} else if name == "cmd" {
				continue
			}
			if !strings.Contains(row, "`"+name+"`") && !strings.Contains(row, "`"+name+"/`") {
				t.Errorf("README.md's layout row for %s/ does not name `%s`", strings.Split(dir, "/")[0], name)
			}
		}
	}
	path := regexp.MustCompile("`([A-Za-z0-9_./-]+)`")
	for folder, row := range rows {
		for _, m := range path.FindAllStringSubmatch(row, -1) {
			p := m[1]
			if !strings.Contains(p, "/") && !strings.Contains(p, ".") {
				// a bare name: a package folder of this module
				p = p + "/"
			}
			if strings.HasPrefix(p, "make ") || strings.HasPrefix(p, "-") {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, folder, p)); err != nil {
				t.Errorf("README.md's layout row for %s/ names `%s`, which is not there", folder, m[1])
			}
		}
	}
}
