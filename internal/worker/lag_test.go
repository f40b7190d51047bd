package worker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/schemas"
)

// Every topic between stages is written in transactions, so every drained
// partition ends with a commit marker. The lag an autoscaler reads must be
// 0 then, not 1 (issue #14 finding 7): the marker is no work.
func TestLagIsZeroAfterDrainingTransactionalInput(t *testing.T) {
	t.Parallel()
	const prefix = "lag."
	brokers, cfg, _ := kafkaFixture(t, prefix, 50)
	tx, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("lag-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	ctx := context.Background()
	const n = 60
	for batch := range 3 {
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		var recs []*kgo.Record
		for i := range n / 3 {
			recs = append(recs, &kgo.Record{Topic: prefix + schemas.TopicValid, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "%d-%d", batch, i)})
		}
		if err := tx.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
	reg := NewRegistry()
	proc := Func(func(context.Context, Message) ([]Output, error) { return nil, nil })
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Run(rctx, cfg, Stage{Name: "lag", Inputs: []string{schemas.TopicValid}, Processor: proc},
			slog.New(slog.NewTextHandler(io.Discard, nil)), reg, &Readiness{})
	}()
	in := func() float64 { return sumMetric(reg, "reftrack_records_in_total") }
	deadline := time.Now().Add(30 * time.Second)
	for in() < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	// A little longer: the last fetch of each partition may come after the
	// last batch committed.
	time.Sleep(500 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := in(); got != n {
		t.Fatalf("%v records in, want %d", got, n)
	}
	mfs, _ := reg.Gather()
	gauges := 0
	for _, mf := range mfs {
		if mf.GetName() != "reftrack_consumer_lag_records" {
			continue
		}
		for _, g := range mf.GetMetric() {
			gauges++
			if v := g.GetGauge().GetValue(); v != 0 {
				t.Errorf("lag %v after draining the input: %v", g.GetLabel(), v)
			}
		}
	}
	if gauges == 0 {
		t.Error("no lag gauge")
	}
}

// sumMetric adds up every series of a counter or gauge in reg.
func sumMetric(reg *prometheus.Registry, name string) float64 {
	mfs, _ := reg.Gather()
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return total
}
