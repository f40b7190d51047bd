package contract

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/schemas"
)

// TestStagesAreOneKindOfThing: every stage declares itself through one
// worker.Settings, transactional or store, and its binary is that value
// handed to the runtime's one front door (issue #12: the sink re-implemented
// the runtime's main, and input topics were named in each main).
func TestStagesAreOneKindOfThing(t *testing.T) {
	t.Parallel()
	root := testenv.RepoRoot(t)
	for name, mk := range settings() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := mk()
			if s.Name != name {
				t.Errorf("%s.Stage() is named %q", name, s.Name)
			}
			if (s.App == nil) == (s.Store == nil) {
				t.Errorf("%s.Stage() must have exactly one of App and Store", name)
			}
			if len(s.Inputs) == 0 {
				t.Errorf("%s.Stage() declares no inputs", name)
			}
			if s.App != nil && len(s.Outputs) == 0 {
				t.Errorf("%s.Stage() is transactional and declares no outputs", name)
			}
			b, err := os.ReadFile(filepath.Join(root, name, "cmd", name, "main.go"))
			if err != nil {
				t.Fatal(err)
			}
			body := string(b)
			if !strings.Contains(body, "worker.Exec("+name+".Stage())") {
				t.Errorf("cmd/%s/main.go does not start through worker.Exec(%s.Stage())", name, name)
			}
			for _, own := range []string{"flag.", "errgroup", "NewRegistry", "signal."} {
				if strings.Contains(body, own) {
					t.Errorf("cmd/%s/main.go uses %s: the runtime's front door does that", name, own)
				}
			}
		})
	}
}

// TestTopologyIsClosed: every topic a stage reads is written by another
// stage (or by partners, or by the runtime's dead letters), and every topic
// a stage writes is read by one: the pipeline of DESIGN.md, held by the
// stages' own declarations.
func TestTopologyIsClosed(t *testing.T) {
	t.Parallel()
	written := map[string]bool{schemas.TopicInbound: true, schemas.TopicRejected: true}
	read := map[string]bool{}
	for _, mk := range settings() {
		s := mk()
		for _, o := range s.Outputs {
			written[o] = true
		}
		for _, in := range s.Inputs {
			read[in] = true
		}
	}
	for _, mk := range settings() {
		s := mk()
		for _, in := range s.Inputs {
			if !written[in] {
				t.Errorf("%s reads %s, which no stage writes", s.Name, in)
			}
		}
		for _, o := range s.Outputs {
			if !read[o] {
				t.Errorf("%s writes %s, which no stage reads", s.Name, o)
			}
			if slices.Contains(s.Inputs, o) {
				t.Errorf("%s writes its own input %s", s.Name, o)
			}
		}
	}
}
