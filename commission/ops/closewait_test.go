package ops

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/commission/statement"
	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/schemas"
)

// TestCloseWaitsForTheSink (issue #13: a period counted closed as soon as
// the sink saw the close records, while entries the stage posted before
// the close were still on their way to ClickHouse, so a statement could be
// delivered without them): close-period waits until the commission stage
// has read past the close on every partition, then until the sink has
// written commissions up to where the journal ended then (transaction
// markers aside), and only then records the close as done, which
// statements require; a stage or sink that does not get there fails the
// command, naming the partitions behind, and the period is not counted
// closed.
func TestCloseWaitsForTheSink(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		stageRead bool  // the stage reads past the close records
		sinkLag   int64 // data records of partition 1 the sink has not written
		want      string
	}{
		{"caught up", true, 0, ""},
		{"sink behind", true, 1, "p.commissions/1"},
		{"stage behind", false, 0, "p.attributions/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			brokers := testenv.Kafka(t, 2, "p."+schemas.TopicAttributions, "p."+schemas.TopicCommissions)
			conn, dsn := testenv.ClickHouse(t, "close_wait_test", true)
			ends := journalWritten(t, brokers)
			for p, next := range ends {
				if p == 1 {
					next -= tt.sinkLag
				}
				insert(t, conn, `INSERT INTO sink_offsets (topic, partition, next_offset, written_at)`,
					[]any{"p." + schemas.TopicCommissions, p, next, time.Now()})
			}
			if tt.stageRead {
				go stageReadsCloses(t, brokers)
			}
			args := []string{"close-period", "--brokers", brokers[0], "--topic-prefix", "p.", "--period", "2026-10", "--partner", "acme",
				"--actor", "ops", "--request-id", "c-1", "--clickhouse", dsn, "--wait", "3s"}
			err := ClosePeriod(ctx, args, func(string) string { return "" })
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("close: %v, want an error naming %q", err, tt.want)
			}
			// The sink recorded the close records on both partitions.
			for p := range int32(2) {
				insert(t, conn, `INSERT INTO commission_period_closes (partner_id, period, request_id, actor, partitions, closed_at, kafka_topic, kafka_partition, kafka_offset)`,
					[]any{"acme", month("2026-10"), "c-1", "ops", int32(2), time.Now(), "p." + schemas.TopicAttributions, p, int64(0)})
			}
			closed, err := statement.Closed(ctx, conn)
			if err != nil {
				t.Fatal(err)
			}
			if got := closed["acme"]["2026-10"]; got != (tt.want == "") {
				t.Errorf("counted closed: %v, want %v", got, tt.want == "")
			}
		})
	}
}

// journalWritten commits transactions of journal records to both
// partitions of commissions, one aborted, and returns where each
// partition's committed data ends (last data offset + 1: the sink's next
// offset once caught up; the partition's end is past the markers).
func journalWritten(t *testing.T, brokers []string) map[int32]int64 {
	t.Helper()
	ctx := context.Background()
	topic := "p." + schemas.TopicCommissions
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("commission-0"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	next := map[int32]int64{}
	for i, commit := range []bool{true, false, true} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for p := range int32(2) {
			r := &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprint("entry ", i))}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
			if commit {
				next[p] = r.Offset + 1
			}
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	return next
}

// stageReadsCloses plays the commission stage: it reads the close records
// and commits its group's offsets past them.
func stageReadsCloses(t *testing.T, brokers []string) {
	ctx := context.Background()
	topic := "p." + schemas.TopicAttributions
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Error(err)
		return
	}
	defer cl.Close()
	offsets := kadm.Offsets{}
	for len(offsets[topic]) < 2 {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			offsets.Add(kadm.Offset{Topic: topic, Partition: r.Partition, At: r.Offset + 1, LeaderEpoch: -1})
		})
	}
	if _, err := kadm.NewClient(cl).CommitOffsets(ctx, "reftrack-commission", offsets); err != nil {
		t.Error(err)
	}
}
