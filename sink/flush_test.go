package sink

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/schemas"
)

// ClickHouse 18.16 pays about 50 ms of CPU per INSERT whatever its size,
// and at half the box's capacity the sink's batches were a poll or two of
// records: tens of INSERTs a second. Records that arrive within
// --flush-interval land in one INSERT per table, however many polls of
// --batch-max they took, up to --flush-records. Counted by ClickHouse
// itself: every INSERT into a month partition takes a block number.
func TestSinkInsertsOncePerTableForRecordsWithinTheFlushInterval(t *testing.T) {
	t.Parallel()
	conn := chDatabase(t)
	ctx := context.Background()
	var db string
	if err := conn.QueryRow(ctx, "SELECT currentDatabase()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	dsn, err := url.Parse(testenv.ClickHouseDSN())
	if err != nil {
		t.Fatal(err)
	}
	dsn.Path = "/" + db
	const prefix, n = "f.", 120
	var topics []string
	for _, tp := range Stage().Inputs {
		topics = append(topics, prefix+tp)
	}
	brokers := testenv.Kafka(t, 3, topics...)
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for i := range n {
		v := strings.Replace(created, `"event_id":"e1"`, fmt.Sprintf(`"event_id":"e-%d"`, i), 1)
		prod.Produce(ctx, &kgo.Record{Topic: prefix + schemas.TopicUnique, Key: []byte(fmt.Sprint(i % 5)), Value: []byte(v)}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		// The interval outlasts the test: only --flush-records ends the batch.
		done <- Stage().Main(runCtx, []string{"sink", "--brokers", strings.Join(brokers, ","), "--topic-prefix", prefix,
			"--clickhouse", dsn.String(), "--migrate=false", "--ops-addr", "", "--log-level", "warn",
			"--batch-max", "10", "--flush-interval", "1m", "--flush-records", fmt.Sprint(n)}, func(string) string { return "" })
	}()
	for deadline := time.Now().Add(50 * time.Second); count(t, conn, "SELECT count() FROM sink_offsets") == 0 && time.Now().Before(deadline); {
		select {
		case err := <-done:
			t.Fatalf("the sink stopped: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := count(t, conn, "SELECT count() FROM referral_events"); got != n {
		t.Fatalf("referral_events holds %d rows, want %d", got, n)
	}
	for _, table := range []string{"referral_events", "sink_offsets"} {
		q := fmt.Sprintf("SELECT toUInt64(max(max_block_number)) FROM system.parts WHERE database = '%s' AND table = '%s'", db, table)
		if got := count(t, conn, q); got != 1 {
			t.Errorf("%d INSERTs into %s for %d records polled 10 at a time, want 1", got, table, n)
		}
	}
}
