package dedupe

import (
	"context"
	"testing"

	"github.com/reftrack/reftrack/internal/worker"
)

func TestTransition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		from, to string
		ok       bool
	}{
		{"", "quoted", true}, {"new", "contacted", true}, {"contacted", "applied", true}, {"applied", "bound", true},
		{"quoted", "quoted", true}, {"quoted", "lost", true}, {"new", "lost", true},
		{"bound", "contacted", false}, {"quoted", "new", false}, {"lost", "contacted", false}, {"bound", "lost", false}, {"lost", "lost", true},
	}
	for _, tt := range tests {
		if got := Transition(tt.from, tt.to); got != tt.ok {
			t.Errorf("Transition(%q, %q) = %v, want %v", tt.from, tt.to, got, tt.ok)
		}
	}
}

func status(partner, id, lead, s string) ev {
	return ev{partner: partner, lead: lead, id: id, status: s}
}

// TestLifecycle: illegal steps are rejected, duplicates are dropped (not
// rejected), and a redone batch decides exactly as the first attempt.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, h := newStage(t)
	b1 := batchAt(0, 0, status("acme", "s0", "L", "new"), status("acme", "s1", "L", "quoted"), status("acme", "s2", "L", "contacted"), status("acme", "s0", "L", "new"))
	steps := []struct {
		name  string
		abort bool
		batch []worker.Message
		want  string
	}{
		{"aborted", true, b1, "PPRD"}, // pass, pass, reject (quoted → contacted), duplicate
		{"redo", false, b1, "PPRD"},
		{"later", false, batchAt(0, 4, status("acme", "s4", "L", "bound"), status("acme", "s5", "L", "lost"), status("acme", "s6", "M", "lost")), "PRP"},
	}
	for _, s := range steps {
		run := h.Batch
		if s.abort {
			run = h.Aborted
		}
		res, err := run(ctx, d, s.batch)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := outcome(res); got != s.want {
			t.Errorf("%s: %s, want %s", s.name, got, s.want)
		}
	}
}

// TestLifecycleTenantScoped holds issue #11 finding 1: partner beta using a
// lead id of acme's cannot move acme's lead, neither inside one batch nor
// through the statuses kept in the stage's state.
func TestLifecycleTenantScoped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		batches [][]worker.Message
		want    string // outcome of the last batch
	}{
		{"across batches", [][]worker.Message{
			batchAt(0, 0, status("acme", "a0", "L", "new"), status("beta", "b1", "L", "lost")),
			batchAt(0, 2, status("acme", "a2", "L", "contacted"), status("beta", "b3", "L", "contacted")),
		}, "PR"},
		{"in one batch", [][]worker.Message{
			batchAt(0, 0, status("acme", "a0", "L", "new"), status("beta", "b1", "L", "lost"),
				status("acme", "a2", "L", "contacted"), status("beta", "b3", "L", "contacted")),
		}, "PPPR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, h := newStage(t)
			var res []worker.Result
			for _, b := range tt.batches {
				var err error
				if res, err = h.Batch(context.Background(), d, b); err != nil {
					t.Fatal(err)
				}
			}
			if got := outcome(res); got != tt.want {
				t.Errorf("last batch %s, want %s (beta's lost is beta's lead only)", got, tt.want)
			}
		})
	}
}
