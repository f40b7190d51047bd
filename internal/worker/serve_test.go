package worker

import (
	"testing"
	"time"
)

// TestNewServerBoundsEveryPhase: every server the runtime starts (the ops
// port included) has a read, write and idle timeout, not only the header one.
func TestNewServerBoundsEveryPhase(t *testing.T) {
	t.Parallel()
	custom := HTTPTimeouts{ReadHeader: time.Second, Read: 2 * time.Second, Write: 3 * time.Second, Idle: 4 * time.Second}
	for name, tt := range map[string]HTTPTimeouts{"default": DefaultHTTPTimeouts, "custom": custom} {
		srv := newServer(nil, tt)
		got := HTTPTimeouts{ReadHeader: srv.ReadHeaderTimeout, Read: srv.ReadTimeout, Write: srv.WriteTimeout, Idle: srv.IdleTimeout}
		if got != tt || got.ReadHeader <= 0 || got.Read <= 0 || got.Write <= 0 || got.Idle <= 0 {
			t.Errorf("%s: server timeouts %+v, want %+v, all positive", name, got, tt)
		}
	}
}
