package sink

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// gatedConn is a real connection whose INSERTs into the data tables each
// wait, before they start, until all of want have started (or patience
// runs out), and which records when sink_offsets is written.
type gatedConn struct {
	driver.Conn
	want     int
	patience time.Duration

	mu            sync.Mutex
	started       int
	all           chan struct{}
	inFlight, max int
	offsetsAfter  int // data INSERTs finished when sink_offsets was prepared
	finished      int
}

func (c *gatedConn) PrepareBatch(ctx context.Context, query string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	if strings.Contains(query, "INTO sink_offsets") {
		c.mu.Lock()
		c.offsetsAfter = c.finished
		c.mu.Unlock()
		return c.Conn.PrepareBatch(ctx, query, opts...)
	}
	c.mu.Lock()
	c.started++
	c.inFlight++
	c.max = max(c.max, c.inFlight)
	if c.started == c.want {
		close(c.all)
	}
	c.mu.Unlock()
	select {
	case <-c.all:
	case <-time.After(c.patience): // one at a time: the others never start
	}
	b, err := c.Conn.PrepareBatch(ctx, query, opts...)
	return &doneBatch{Batch: b, conn: c}, err
}

type doneBatch struct {
	driver.Batch
	conn *gatedConn
}

func (b *doneBatch) Send() error {
	err := b.Batch.Send()
	b.conn.mu.Lock()
	b.conn.inFlight--
	b.conn.finished++
	b.conn.mu.Unlock()
	return err
}

// A write's INSERTs (one per table it touches) run at once, so the write
// waits for the slowest rather than for their sum: each is a round trip
// and a part the server writes, and under load their sum was most of the
// sink's write time, which is latency for every record in the batch.
// sink_offsets is still written only after every table's rows.
func TestWriteInsertsTheTablesAtOnceThenTheOffsets(t *testing.T) {
	t.Parallel()
	conn := &gatedConn{Conn: chDatabase(t), want: 3, patience: 20 * time.Second, all: make(chan struct{})}
	s := &Store{Conn: conn, TopicPrefix: "p.", Metrics: NewMetrics(prometheus.NewRegistry()), Now: time.Now}
	parts := []worker.Part{
		{Topic: "p." + schemas.TopicUnique, Partition: 1, Msgs: []worker.Message{msg(schemas.TopicUnique, 10, created)}},
		{Topic: "p." + schemas.TopicAttributions, Partition: 1, Msgs: []worker.Message{msg(schemas.TopicAttributions, 5, attribution)}},
		{Topic: "p." + schemas.TopicCommissions, Partition: 1, Msgs: []worker.Message{msg(schemas.TopicCommissions, 3, line)}},
	}
	if err := s.Write(context.Background(), parts); err != nil {
		t.Fatal(err)
	}
	conn.mu.Lock()
	defer conn.mu.Unlock()
	if conn.max != conn.want {
		t.Errorf("%d INSERTs in flight at most, want the %d tables' at once", conn.max, conn.want)
	}
	if conn.offsetsAfter != conn.want {
		t.Errorf("sink_offsets written after %d of %d tables' INSERTs, want after all", conn.offsetsAfter, conn.want)
	}
}
