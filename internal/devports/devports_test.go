package devports_test

import (
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/internal/devports"
	"github.com/reftrack/reftrack/internal/testenv"
)

// allowed are the files that may spell a dev port, and why.
var allowed = map[string]string{
	"internal/devports/ports.env":   "the definition",
	"schemas/openapi.template.json": "the OpenAPI document names the dev server (the API port) in its servers list",
	"schemas/openapi.json":          "generated from openapi.template.json",
}

// TestNoSecondDefinition: no script, Go file, manifest or Makefile outside
// ports.env spells a dev port (issue #12: the dev ports were defined in five
// places). Tests and docs may use the numbers as examples; code and
// scripts take them from ports.env (devports.Port, or sourcing the file).
func TestNoSecondDefinition(t *testing.T) {
	t.Parallel()
	var nums []string
	for _, p := range devports.All() {
		nums = append(nums, strconv.Itoa(p))
	}
	sort.Strings(nums)
	re := regexp.MustCompile(`\b(` + strings.Join(nums, "|") + `)\b`)
	// bench/results keep what runs measured, ports included
	keep := func(rel string) bool {
		return !strings.HasPrefix(rel, "bench/") && checked(path.Base(rel)) && allowed[rel] == ""
	}
	testenv.WalkRepo(t, keep, func(rel string, b []byte) {
		for i, line := range strings.Split(string(b), "\n") {
			if m := re.FindString(line); m != "" {
				t.Errorf("%s:%d spells the dev port %s; take it from internal/devports/ports.env", rel, i+1, m)
			}
		}
	})
}

// checked says whether a file is code, a script or configuration (tests
// and prose may quote the ports).
func checked(name string) bool {
	if strings.HasSuffix(name, "_test.go") {
		return false
	}
	switch filepath.Ext(name) {
	case ".go", ".sh", ".yaml", ".yml", ".json", ".env", ".toml", ".conf", ".xml":
		return true
	}
	return name == "Makefile" || name == "Dockerfile"
}

// The embedded file parses, names every port the scripts use, and gives
// each a distinct port.
func TestPortsFile(t *testing.T) {
	t.Parallel()
	seen := map[int]string{}
	for _, name := range []string{devports.Broker, devports.API, devports.OpsBase, devports.Redis, devports.ClickHouseTCP, devports.ClickHouseHTTP} {
		p := devports.Default(name)
		if other, dup := seen[p]; dup {
			t.Errorf("%s and %s share port %d", name, other, p)
		}
		seen[p] = name
	}
	tests := []struct {
		name, text string
		ok         bool
	}{
		{"comments and blanks", "# x\n\nA_PORT=1\n", true},
		{"not a port", "A_PORT=x\n", false},
		{"out of range", "A_PORT=70000\n", false},
		{"twice", "A_PORT=1\nA_PORT=2\n", false},
		{"no equals", "A_PORT\n", false},
	}
	for _, tt := range tests {
		if _, err := devports.Parse(tt.text); (err == nil) != tt.ok {
			t.Errorf("%s: Parse error %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}
