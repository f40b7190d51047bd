package sink

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// A write whose INSERTs landed on the server while the sink saw an error
// (the connection cut after the server had the rows: make chaos R7) is
// retried by the runtime with the same parts. The retry must not insert the
// rows again: FINAL would hide the copies, but every raw count and sum
// without FINAL would double.
func TestRetryAfterAnAmbiguousFailureDoesNotDuplicateRows(t *testing.T) {
	t.Parallel()
	conn := chDatabase(t)
	ctx := context.Background()
	s := &Store{Conn: conn, TopicPrefix: "p.", Metrics: NewMetrics(prometheus.NewRegistry()), Now: time.Now}
	u, a := "p."+schemas.TopicUnique, "p."+schemas.TopicAttributions
	first := []worker.Part{
		{Topic: u, Partition: 1, Msgs: []worker.Message{msg(schemas.TopicUnique, 10, created), msg(schemas.TopicUnique, 11, issued)}},
		{Topic: a, Partition: 1, Msgs: []worker.Message{msg(schemas.TopicAttributions, 5, attribution)}},
	}
	if err := s.Write(ctx, first); err != nil {
		t.Fatal(err)
	}
	// The runtime saw an error although the rows landed, and retries the
	// same parts.
	s.uncertain = true
	retry := []worker.Part{
		{Topic: u, Partition: 1, Msgs: []worker.Message{msg(schemas.TopicUnique, 10, created), msg(schemas.TopicUnique, 11, issued)}},
		{Topic: a, Partition: 1, Msgs: []worker.Message{msg(schemas.TopicAttributions, 5, attribution)}},
	}
	if err := s.Write(ctx, retry); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]uint64{
		"SELECT count() FROM referral_events": 2, // raw: no FINAL
		"SELECT count() FROM attributions":    2,
	} {
		if got := count(t, conn, q); got != want {
			t.Errorf("%s = %d after the retry, want %d (rows written twice)", q, got, want)
		}
	}
	if s.uncertain {
		t.Error("a successful write left the store uncertain")
	}
	if got, err := s.NextOffset(ctx, u, 1); err != nil || got != 12 {
		t.Errorf("NextOffset after the retry = %d, %v; want 12", got, err)
	}
}
