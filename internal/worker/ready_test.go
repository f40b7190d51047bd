package worker

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// /readyz must follow the dependencies on its own (issue #14 finding 6:
// an idle worker stayed ready with Redis down, and the sink stayed not
// ready after ClickHouse came back), and say which one is down.
func TestReadinessFollowsDependencyChecks(t *testing.T) {
	t.Parallel()
	var redisDown atomic.Bool
	r := &Readiness{}
	r.Set(true)
	r.AddCheck("kafka", func(context.Context) error { return nil })
	r.AddCheck("redis", func(context.Context) error {
		if redisDown.Load() {
			return errors.New("dial tcp 127.0.0.1:16379: connection refused")
		}
		return nil
	})
	h := OpsHandler(NewRegistry(), r)
	probe := func() (int, map[string]any) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		var body map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		return rec.Code, body
	}
	ctx := context.Background()
	for _, step := range []struct {
		name    string
		down    bool
		want    int
		failing string
	}{
		{"all up", false, http.StatusOK, ""},
		{"redis down while idle", true, http.StatusServiceUnavailable, "redis"},
		{"redis back", false, http.StatusOK, ""},
	} {
		redisDown.Store(step.down)
		r.CheckNow(ctx, time.Second) // what Watch does on its timer
		code, body := probe()
		if code != step.want {
			t.Errorf("%s: /readyz %d, want %d", step.name, code, step.want)
		}
		if step.failing != "" {
			f, _ := body["failing"].(map[string]any)
			if _, ok := f[step.failing]; !ok || len(f) != 1 {
				t.Errorf("%s: failing %v, want only %s", step.name, body["failing"], step.failing)
			}
		}
	}
	// The runtime's own verdict still counts.
	r.Set(false)
	if code, _ := probe(); code != http.StatusServiceUnavailable {
		t.Errorf("runtime not ready: /readyz %d", code)
	}
}

func TestReadinessWatchStopsWithContext(t *testing.T) {
	t.Parallel()
	r := &Readiness{}
	var runs atomic.Int32
	r.AddCheck("x", func(context.Context) error { runs.Add(1); return nil })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Watch(ctx, time.Hour); close(done) }()
	for runs.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
}
