// Package contract holds every stage to the shape the runtime expects of
// it, in one place that can import them all: configuration checks that
// change nothing, and module READMEs that list every flag their binary
// takes (so the docs cannot drift from the code).
package contract

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/attribute"
	"github.com/reftrack/reftrack/commission"
	"github.com/reftrack/reftrack/dedupe"
	"github.com/reftrack/reftrack/ingest"
	"github.com/reftrack/reftrack/internal/rediscfg"
	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/sink"
	"github.com/reftrack/reftrack/validate"
)

// app is a stage's own half of its configuration: a worker.App or a
// worker.StoreApp.
type app interface {
	RegisterFlags(fs *flag.FlagSet)
	Validate() error
}

// settings is every stage binary's worker.Settings, by stage name.
func settings() map[string]func() worker.Settings {
	return map[string]func() worker.Settings{
		"ingest":     ingest.Stage,
		"validate":   validate.Stage,
		"dedupe":     dedupe.Stage,
		"attribute":  attribute.Stage,
		"commission": commission.Stage,
		"sink":       sink.Stage,
	}
}

func stages() map[string]func() app {
	out := map[string]func() app{}
	for name, mk := range settings() {
		out[name] = func() app {
			s := mk()
			if s.Store != nil {
				return s.Store
			}
			return s.App
		}
	}
	return out
}

// Validate must be a check, not a step of the start: a stage whose
// Validate fills in its configuration works only if Validate ran, and a
// second Validate (or none, in a test) changes behaviour (issue #12).
func TestValidateChangesNothing(t *testing.T) {
	t.Parallel()
	// Flags that make each stage's configuration valid, so that Validate
	// goes through every check rather than stopping at a missing one.
	valid := map[string][]string{
		"ingest":     {"--insecure-no-auth", "--referral-token-keys", "k1:" + strings.Repeat("QUFB", 11)},
		"attribute":  {"--paid-model-by-line", "life=linear", "--exclude-referrer-types", "customer"},
		"commission": {"--rules", filepath.Join(testenv.RepoRoot(t), "deploy", "dev", "rules.json")},
	}
	for name, mk := range stages() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := mk()
			fs := flag.NewFlagSet(name, flag.ContinueOnError)
			a.RegisterFlags(fs)
			if err := fs.Parse(valid[name]); err != nil {
				t.Fatal(err)
			}
			before := reflect.ValueOf(a).Elem().Interface()
			_ = a.Validate() // valid or not, it must not write
			after := reflect.ValueOf(a).Elem().Interface()
			if !reflect.DeepEqual(before, after) {
				t.Errorf("%s's Validate changed the App:\nbefore %+v\nafter  %+v", name, before, after)
			}
		})
	}
}

// Every flag a stage adds to the runtime's is in its README; the
// runtime's own and the shared Redis flags are in internal/README.md.
func TestREADMEsListEveryFlag(t *testing.T) {
	t.Parallel()
	root := testenv.RepoRoot(t)
	runtime := map[string]bool{}
	var rc worker.Config
	rfs := flag.NewFlagSet("runtime", flag.ContinueOnError)
	rc.RegisterFlags(rfs, "x")
	var redis rediscfg.Config
	redis.RegisterFlags(rfs) // shared by every stage with state
	rfs.VisitAll(func(f *flag.Flag) { runtime[f.Name] = true })
	shared, err := os.ReadFile(filepath.Join(root, "internal", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rfs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(string(shared), "`--"+f.Name+"`") {
			t.Errorf("internal/README.md does not list --%s", f.Name)
		}
	})

	check := func(stage string, register func(*flag.FlagSet)) {
		b, err := os.ReadFile(filepath.Join(root, stage, "README.md"))
		if err != nil {
			t.Fatal(err)
		}
		fs := flag.NewFlagSet(stage, flag.ContinueOnError)
		register(fs)
		fs.VisitAll(func(f *flag.Flag) {
			if !runtime[f.Name] && !strings.Contains(string(b), "--"+f.Name) {
				t.Errorf("%s/README.md does not mention --%s", stage, f.Name)
			}
		})
	}
	for name, mk := range stages() {
		check(name, mk().RegisterFlags)
	}
}
