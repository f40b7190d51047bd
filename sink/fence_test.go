package sink

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// NextOffsets answers, for a whole poll in one query, where each partition
// ends in sink_offsets; partitions it holds nothing of are absent.
func TestNextOffsetsFencesAPoll(t *testing.T) {
	t.Parallel()
	conn := chDatabase(t)
	ctx := context.Background()
	s := &Store{Conn: conn, TopicPrefix: "p.", Metrics: NewMetrics(prometheus.NewRegistry()), Now: time.Now}
	u, c := "p."+schemas.TopicUnique, "p."+schemas.TopicCommissions
	for _, w := range []worker.Part{
		{Topic: u, Partition: 0, Msgs: []worker.Message{{Offset: 9}}},
		{Topic: u, Partition: 0, Msgs: []worker.Message{{Offset: 19}}},
		{Topic: c, Partition: 3, Msgs: []worker.Message{{Offset: 4}}},
		{Topic: c, Partition: 0, Msgs: []worker.Message{{Offset: 70}}}, // not asked about below
	} {
		if err := s.writeOffsets(ctx, []worker.Part{w}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.NextOffsets(ctx, []worker.Part{{Topic: u, Partition: 0}, {Topic: u, Partition: 5}, {Topic: c, Partition: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if got[u][0] != 20 || got[c][3] != 5 {
		t.Errorf("NextOffsets = %v, want %s/0 → 20 and %s/3 → 5", got, u, c)
	}
	if _, ok := got[u][5]; ok {
		t.Errorf("a partition without offsets got %d", got[u][5])
	}
	var _ worker.Fencer = s
}
