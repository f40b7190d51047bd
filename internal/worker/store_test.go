package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/schemas"
)

// memStore is a Store in memory. Its first Write fails, so the runtime's
// retry of the same parts is exercised too.
type memStore struct {
	mu     sync.Mutex
	writes int
	got    map[string][]int64 // "topic/partition" → offsets, in write order
}

func (s *memStore) Write(_ context.Context, parts []Part) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.writes == 1 {
		return errors.New("store down")
	}
	for _, p := range parts {
		k := fmt.Sprintf("%s/%d", p.Topic, p.Partition)
		for i, m := range p.Msgs {
			if m.Topic != p.Topic || m.Partition != p.Partition || (i > 0 && m.Offset != p.Msgs[i-1].Offset+1) {
				return fmt.Errorf("part %s holds %s/%d@%d after @%d", k, m.Topic, m.Partition, m.Offset, p.Msgs[max(i-1, 0)].Offset)
			}
			s.got[k] = append(s.got[k], m.Offset)
		}
	}
	return nil
}

func (s *memStore) NextOffset(context.Context, string, int32) (int64, error) { return -1, nil }

func (s *memStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, offs := range s.got {
		n += len(offs)
	}
	return n
}

// TestRunStore: every record of two topics lands once, in offset order per
// partition, each Part one contiguous range, across batches gathered over
// several polls (linger) and a failed first write.
func TestRunStore(t *testing.T) {
	t.Parallel()
	const prefix = "s."
	_, cfg, prod := kafkaFixture(t, prefix, 40)
	const n = 300
	for i := range n {
		topic := prefix + []string{schemas.TopicUnique, schemas.TopicCommissions}[i%2]
		// Produced in small groups so that one batch spans several polls.
		if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(i % 7)), Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	store := &memStore{got: map[string][]int64{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- RunStore(ctx, cfg, StoreStage{Name: "sink", Inputs: []string{schemas.TopicUnique, schemas.TopicCommissions}, Store: store, Linger: 50 * time.Millisecond},
			slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(), &Readiness{})
	}()
	for deadline := time.Now().Add(30 * time.Second); store.count() < n && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := store.count(); got != n {
		t.Fatalf("stored %d records, want %d", got, n)
	}
	for k, offs := range store.got {
		want := make([]int64, len(offs))
		for i := range want {
			want[i] = int64(i)
		}
		if !slices.Equal(offs, want) {
			t.Errorf("%s stored offsets %v, want 0..%d once each in order", k, offs, len(offs)-1)
		}
	}
}

func TestByPartition(t *testing.T) {
	recs := []*kgo.Record{
		{Topic: "a", Partition: 1, Offset: 5}, {Topic: "b", Partition: 1, Offset: 0}, {Topic: "a", Partition: 0, Offset: 9},
		{Topic: "a", Partition: 1, Offset: 6}, {Topic: "b", Partition: 1, Offset: 1},
	}
	var got []string
	for _, p := range byPartition(recs) {
		offs := []string{}
		for _, m := range p.Msgs {
			if m.Topic != p.Topic || m.Partition != p.Partition {
				t.Errorf("part %s/%d holds %s/%d", p.Topic, p.Partition, m.Topic, m.Partition)
			}
			offs = append(offs, fmt.Sprint(m.Offset))
		}
		got = append(got, fmt.Sprintf("%s/%d:%s", p.Topic, p.Partition, strings.Join(offs, ",")))
	}
	if want := []string{"a/1:5,6", "b/1:0,1", "a/0:9"}; !slices.Equal(got, want) {
		t.Errorf("byPartition = %v, want %v", got, want)
	}
	if len(byPartition(nil)) != 0 {
		t.Error("byPartition(nil) has parts")
	}
}

// sizesStore records how many records each Write held.
type sizesStore struct {
	mu    sync.Mutex
	sizes []int
}

func (s *sizesStore) Write(_ context.Context, parts []Part) error {
	n := 0
	for _, p := range parts {
		n += len(p.Msgs)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sizes = append(s.sizes, n)
	return nil
}

func (s *sizesStore) NextOffset(context.Context, string, int32) (int64, error) { return -1, nil }

func (s *sizesStore) written() (writes []int, records int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.sizes {
		records += n
	}
	return slices.Clone(s.sizes), records
}

// TestRunStoreWritesUpToMaxRecordsAtOnce: every record polled within the
// linger goes to the store in one Write, up to StoreStage.MaxRecords,
// however small --batch-max (what one poll returns) is. ClickHouse pays
// per INSERT (a part, its files and merges), so the sink's writes must not
// be as small as the transactional stages' batches.
func TestRunStoreWritesUpToMaxRecordsAtOnce(t *testing.T) {
	t.Parallel()
	const prefix = "m."
	_, cfg, prod := kafkaFixture(t, prefix, 10)
	const n = 120
	for i := range n {
		prod.Produce(context.Background(), &kgo.Record{Topic: prefix + schemas.TopicUnique, Key: []byte(fmt.Sprint(i % 7)), Value: []byte("v")}, nil)
	}
	if err := prod.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	store := &sizesStore{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		// The linger outlasts the test: only MaxRecords can end the batch.
		stage := StoreStage{Name: "sink", Inputs: []string{schemas.TopicUnique}, Store: store, Linger: time.Hour, MaxRecords: n}
		done <- RunStore(ctx, cfg, stage, discard(), prometheus.NewRegistry(), &Readiness{})
	}()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, got := store.written(); got >= n {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if writes, _ := store.written(); !slices.Equal(writes, []int{n}) {
		t.Errorf("records per write %v, want one write of %d", writes, n)
	}
}
