package contract

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/internal/testenv"
)

// launcherFile is the one place that sets a worker's launch settings (its
// flags, through their environment variables) and starts the dev broker.
const launcherFile = "deploy/devstack/devstack.go"

// launchSettings are the settings only a launcher gives a worker: where it
// listens and which brokers and group it joins. Tests may set them for
// processes of their own; no script, Makefile or other command may.
var launchSettings = regexp.MustCompile(`\b(REFTRACK_OPS_ADDR|REFTRACK_LISTEN|REFTRACK_BROKERS|REFTRACK_GROUP)=`)

// TestOneLauncher (issue #12): the stack was launched both from bash
// (deploy/dev.sh starting the broker and six supervised workers itself)
// and from Go (deploy/devstack). Now dev.sh only hands over to
// bin/devstack, and the workers' launch settings are spelled in one file.
func TestOneLauncher(t *testing.T) {
	t.Parallel()
	root := testenv.RepoRoot(t)
	devSh, err := os.ReadFile(filepath.Join(root, "deploy", "dev.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, starts := range []*regexp.Regexp{
		regexp.MustCompile(`\bREFTRACK_[A-Z_]+=`), // configures a worker
		regexp.MustCompile(`\bnohup\b|&\s*$`),     // starts a process in the background
		regexp.MustCompile(`\$BIN/|bin/(devbroker|ingest|validate|dedupe|attribute|commission|sink)\b`),
	} {
		for i, line := range strings.Split(string(devSh), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "#") && starts.MatchString(line) {
				t.Errorf("deploy/dev.sh:%d starts or configures a process itself (%q); bin/devstack is the launcher", i+1, strings.TrimSpace(line))
			}
		}
	}
	var found []string
	testenv.WalkRepo(t, launcherChecked, func(rel string, b []byte) {
		if launchSettings.Match(b) {
			found = append(found, rel)
		}
	})
	if len(found) != 1 || found[0] != launcherFile {
		t.Errorf("worker launch settings (%s) are set in %v; want only in %s", launchSettings, found, launcherFile)
	}
}

// launcherChecked: code (tests may start processes of their own), scripts
// and the Makefile.
func launcherChecked(rel string) bool {
	if strings.HasSuffix(rel, "_test.go") {
		return false
	}
	switch filepath.Ext(rel) {
	case ".go", ".sh":
		return true
	}
	return filepath.Base(rel) == "Makefile"
}
