package devstack

import "testing"

// TestOpsPortFixed: with OpsBase set, stage i (1-based, pipeline order)
// serves ops on OpsBase+i, as ports.env defines the dev stack's, the same
// after a restart; a replica takes a free port, never a stage's.
func TestOpsPortFixed(t *testing.T) {
	t.Parallel()
	s := &Stack{cfg: Config{OpsBase: 39100}, ports: map[int]bool{}}
	tests := []struct {
		name string
		want int // 0: any port but the stages'
	}{
		{"ingest", 39101},
		{"validate", 39102},
		{"sink", 39106},
		{"ingest", 39101},
		{"dedupe#2", 0},
	}
	for _, tt := range tests {
		got, err := s.opsPort(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		if tt.want != 0 && got != tt.want || tt.want == 0 && got >= 39101 && got <= 39106 {
			t.Errorf("opsPort(%s) = %d, want %d (0: a free port)", tt.name, got, tt.want)
		}
	}
}
