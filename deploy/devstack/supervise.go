package devstack

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// Restart backoff, as an orchestrator's crash loop backoff: a worker that
// keeps exiting waits longer each time, one that ran a while is forgiven.
const (
	firstDelay = time.Second
	maxDelay   = 16 * time.Second
	forgiveAge = 30 * time.Second
	pollEvery  = 250 * time.Millisecond
)

// nextDelay is the wait before restarting a worker that exited after
// running for ran, when its previous wait was prev (zero before the first
// exit): doubling up to maxDelay, back to firstDelay after a long run.
func nextDelay(prev, ran time.Duration) time.Duration {
	if prev == 0 || ran > forgiveAge {
		return firstDelay
	}
	return min(prev*2, maxDelay)
}

// backoff is one worker's restart state.
type backoff struct {
	started time.Time // of the current process
	delay   time.Duration
	due     time.Time // restart then; zero while it runs
}

// Supervise restarts every worker that exits (a worker gives up when the
// brokers are gone past its retries or a newer instance fenced it), as
// Kubernetes or systemd would, until ctx ends; say is told of each exit.
// Workers stopped with StopWorker are left alone. It owns the Stack while
// it runs: call no other method concurrently, and Stop after it returns.
func (s *Stack) Supervise(ctx context.Context, say func(string)) {
	state := map[string]*backoff{}
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, name := range s.Names() {
				s.tend(name, state, now, say)
			}
		}
	}
}

// tend restarts name once its backoff is over, if it exited.
func (s *Stack) tend(name string, state map[string]*backoff, now time.Time, say func(string)) {
	b := state[name]
	if b == nil {
		b = &backoff{started: now}
		state[name] = b
	}
	if b.due.IsZero() {
		if !Exited(s.PID(name)) {
			return
		}
		b.delay = nextDelay(b.delay, now.Sub(b.started))
		b.due = now.Add(b.delay)
		say(fmt.Sprintf("%s exited; restarting in %s (log %s)", name, b.delay, s.logPath(name)))
		return
	}
	if now.Before(b.due) {
		return
	}
	if err := s.Restart(name, false); err != nil {
		say(fmt.Sprintf("restart %s: %v", name, err))
		b.due = now.Add(b.delay)
		return
	}
	b.started, b.due = now, time.Time{}
}

// Exited tells a dead process (gone, or a zombie nobody reaped yet) from a
// live or stopped one; kill -0 cannot, it succeeds on a zombie.
func Exited(pid int) bool {
	if pid == 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z' || b[i+2] == 'X'
}
