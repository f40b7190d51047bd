package devstack

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestNextDelay: the restart backoff doubles from 1 s to 16 s while a
// worker keeps exiting and starts over once it ran more than 30 s, as
// dev.sh's supervise loop did.
func TestNextDelay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		prev, ran time.Duration
		want      time.Duration
	}{
		{"first exit", 0, time.Second, time.Second},
		{"first exit after a long run", 0, time.Hour, time.Second},
		{"again soon", time.Second, 2 * time.Second, 2 * time.Second},
		{"doubles", 4 * time.Second, time.Second, 8 * time.Second},
		{"capped", 16 * time.Second, time.Second, 16 * time.Second},
		{"at the cap's edge", 8 * time.Second, 30 * time.Second, 16 * time.Second},
		{"forgiven after a long run", 16 * time.Second, 31 * time.Second, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := nextDelay(tt.prev, tt.ran); got != tt.want {
				t.Errorf("nextDelay(%s, %s) = %s, want %s", tt.prev, tt.ran, got, tt.want)
			}
		})
	}
}

// TestExited: a live process is not exited; a zombie (exited, not reaped)
// is, though kill -0 still succeeds on it; a reaped one is.
func TestExited(t *testing.T) {
	t.Parallel()
	if Exited(os.Getpid()) {
		t.Error("this process reads as exited")
	}
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	// Not reaped: a zombie until Wait, however long it takes to exit.
	for !Exited(pid) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if !Exited(pid) {
		t.Error("a reaped process reads as running")
	}
}
