package worker

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/reftrack/reftrack/schemas"
)

// The sink must ride out a broker that refuses its offset commits (a
// rebalance it missed: ILLEGAL_GENERATION; a broker restarting) instead of
// exiting (issue #14 finding 3): the rows are in the store, which says
// where to resume, so a failed commit loses nothing.
func TestRunStoreRidesOutRefusedCommits(t *testing.T) {
	t.Parallel()
	const prefix = "f."
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, schemas.AllTopics(prefix)...))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var refused atomic.Int32
	c.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if refused.Load() >= 3 {
			return nil, nil, false
		}
		c.KeepControl()
		refused.Add(1)
		r := req.(*kmsg.OffsetCommitRequest)
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.IllegalGeneration.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	brokers := c.ListenAddrs()
	cfg := Config{Brokers: strings.Join(brokers, ","), TopicPrefix: prefix, Group: "g", Instance: "0",
		BatchMax: 20, ShutdownTimeout: 5 * time.Second, LogFormat: "text", LogLevel: "info"}
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const n = 120
	for i := range n {
		r := &kgo.Record{Topic: prefix + schemas.TopicUnique, Value: []byte("v")}
		if err := prod.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		_ = i
	}
	store := &memStore{got: map[string][]int64{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- RunStore(ctx, cfg, StoreStage{Name: "sink", Inputs: []string{schemas.TopicUnique}, Store: store},
			slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(), &Readiness{})
	}()
	var runErr error
	for deadline := time.Now().Add(30 * time.Second); store.count() < n && time.Now().Before(deadline); {
		select {
		case runErr = <-done:
			t.Fatalf("the sink's runtime exited with %v after %d refused commits, %d of %d records stored", runErr, refused.Load(), store.count(), n)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if refused.Load() == 0 {
		t.Fatal("no commit was refused: the test did not exercise the fault")
	}
	if store.count() < n {
		t.Fatalf("stored %d of %d records", store.count(), n)
	}
}

// fencingStore is a memStore that another member has already written
// offsets below ahead[partition] into.
type fencingStore struct {
	*memStore
	ahead map[int32]int64
}

func (s *fencingStore) NextOffsets(_ context.Context, parts []Part) (map[string]map[int32]int64, error) {
	out := map[string]map[int32]int64{}
	for _, p := range parts {
		if out[p.Topic] == nil {
			out[p.Topic] = map[int32]int64{}
		}
		if n, ok := s.ahead[p.Partition]; ok {
			out[p.Topic][p.Partition] = n
		}
	}
	return out, nil
}

// A store worker that lost its partition while stalled must not write what
// the new owner already wrote (issue #14 finding 3: the sink had no fencing
// of its own).
func TestRunStoreSkipsWhatAnotherMemberWrote(t *testing.T) {
	t.Parallel()
	const prefix = "fe."
	_, cfg, _ := kafkaFixture(t, prefix, 500)
	prod, err := kgo.NewClient(kgo.SeedBrokers(cfg.BrokerList()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const n = 100
	var recs []*kgo.Record
	for range n {
		recs = append(recs, &kgo.Record{Topic: prefix + schemas.TopicUnique, Partition: 1, Value: []byte("v")})
	}
	if err := prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	store := &fencingStore{memStore: &memStore{got: map[string][]int64{}, writes: 1}, ahead: map[int32]int64{1: 30}}
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- RunStore(ctx, cfg, StoreStage{Name: "sink", Inputs: []string{schemas.TopicUnique}, Store: store},
			slog.New(slog.NewTextHandler(io.Discard, nil)), reg, &Readiness{})
	}()
	for deadline := time.Now().Add(30 * time.Second); store.count() < n-30 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // anything written twice would show now
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := store.got[prefix+schemas.TopicUnique+"/1"]
	if len(got) != n-30 || got[0] != 30 || got[len(got)-1] != n-1 {
		t.Fatalf("stored %d offsets %v…, want exactly 30..%d", len(got), got[:min(len(got), 5)], n-1)
	}
	if f := sumMetric(reg, "reftrack_store_fenced_records_total"); f != 30 {
		t.Errorf("fenced records metric %v, want 30", f)
	}
}
