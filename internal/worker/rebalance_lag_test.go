package worker

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/schemas"
)

// lagPartitions are the partitions reg has a lag gauge for.
func lagPartitions(reg *prometheus.Registry) map[string]bool {
	out := map[string]bool{}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "reftrack_consumer_lag_records" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "partition" {
					out[l.GetValue()] = true
				}
			}
		}
	}
	return out
}

// A worker that loses partitions to another group member must stop
// reporting their lag (issue #15): a gauge left behind keeps its last value
// forever, and an autoscaler summing lag over the group sees work that is
// not there, or counts it twice. Both loops: Run and RunStore.
func TestLagForgottenAfterRebalance(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name string
		run  func(ctx context.Context, cfg Config, reg *prometheus.Registry) error
	}{
		{"transactional", func(ctx context.Context, cfg Config, reg *prometheus.Registry) error {
			proc := Func(func(context.Context, Message) ([]Output, error) { return nil, nil })
			return Run(ctx, cfg, Stage{Name: "rebal", Inputs: []string{schemas.TopicValid}, Processor: proc}, log, reg, &Readiness{})
		}},
		{"store", func(ctx context.Context, cfg Config, reg *prometheus.Registry) error {
			store := &memStore{got: map[string][]int64{}}
			return RunStore(ctx, cfg, StoreStage{Name: "rebal", Inputs: []string{schemas.TopicValid}, Store: store, Linger: 10 * time.Millisecond}, log, reg, &Readiness{})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lagAfterRebalance(t, tt.run)
		})
	}
}

func lagAfterRebalance(t *testing.T, run func(ctx context.Context, cfg Config, reg *prometheus.Registry) error) {
	const prefix = "rebal."
	brokers, cfg, _ := kafkaFixture(t, prefix, 5)
	in := prefix + schemas.TopicValid
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	produce := func(n int) {
		t.Helper()
		var recs []*kgo.Record
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: in, Partition: int32(i % 3), Value: []byte("x")})
		}
		if err := prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(30)

	start := func(instance string) (*prometheus.Registry, func()) {
		c := cfg
		c.Instance = instance
		reg := NewRegistry()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- run(ctx, c, reg) }()
		return reg, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("worker %s: %v", instance, err)
			}
		}
	}
	regA, stopA := start("a")
	defer stopA()
	wait := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	wait("worker a to read every partition", func() bool { return len(lagPartitions(regA)) == 3 })

	regB, stopB := start("b")
	defer stopB()
	wait("worker b to take partitions", func() bool {
		produce(3)
		return len(lagPartitions(regB)) > 0
	})
	for p := range lagPartitions(regB) {
		if lagPartitions(regA)[p] {
			t.Errorf("worker a still reports the lag of partition %s, which worker b now owns", p)
		}
	}
}
