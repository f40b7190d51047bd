package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/schemas"
)

// TestRunExactlyOnce drives the runtime against an in-process kfake broker:
// good records come out once each, bad ones land in the dead-letter topic
// with their bytes and reasons, a panic is a dead letter too, and a
// transient failure aborts the batch and is retried without duplicating any
// output.
func TestRunExactlyOnce(t *testing.T) {
	t.Parallel()
	const prefix = "t."
	brokers, cfg, prod := kafkaFixture(t, prefix, 50)

	const n = 600
	var recs []*kgo.Record
	wantOut, wantDead := 0, 0
	for i := range n {
		v := fmt.Sprintf("ok-%d", i)
		switch {
		case i%50 == 7:
			v = fmt.Sprintf("bad-%d", i)
			wantDead++
		case i%97 == 3:
			v = fmt.Sprintf("panic-%d", i)
			wantDead++
		case i%60 == 11:
			v = fmt.Sprintf("flaky-%d", i)
			wantOut++
		default:
			wantOut++
		}
		recs = append(recs, &kgo.Record{Topic: prefix + schemas.TopicValid, Key: []byte(fmt.Sprint(i % 13)), Value: []byte(v)})
	}
	if err := prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	var flakes atomic.Int32
	seen := map[string]bool{}
	proc := Func(func(_ context.Context, m Message) ([]Output, error) {
		v := string(m.Value)
		switch {
		case strings.HasPrefix(v, "bad"):
			return nil, Reject("bad_value", "/", "value %q is bad", v)
		case strings.HasPrefix(v, "panic"):
			panic("poison")
		case strings.HasPrefix(v, "flaky") && !seen[v]:
			seen[v] = true // Func runs batches sequentially
			flakes.Add(1)
			return nil, errors.New("dependency down")
		}
		return []Output{{Topic: schemas.TopicUnique, Key: m.Key, Value: bytes.ToUpper(m.Value)}}, nil
	})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := NewRegistry()
	go func() {
		done <- Run(ctx, cfg, Stage{Name: "test", Inputs: []string{schemas.TopicValid}, Processor: proc}, log, reg, &Readiness{})
	}()

	out := consume(t, brokers, prefix+schemas.TopicUnique, wantOut)
	dead := consume(t, brokers, prefix+schemas.TopicRejected, wantDead)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v on shutdown", err)
	}

	counts := map[string]int{}
	for _, r := range out {
		counts[string(r.Value)]++
	}
	for i := range n {
		v := fmt.Sprintf("OK-%d", i)
		if i%60 == 11 && i%50 != 7 && i%97 != 3 {
			v = fmt.Sprintf("FLAKY-%d", i)
		}
		if strings.HasPrefix(v, "OK") && (i%50 == 7 || i%97 == 3) {
			continue
		}
		if counts[v] != 1 {
			t.Errorf("output %s appeared %d times, want once", v, counts[v])
		}
	}
	if flakes.Load() == 0 {
		t.Error("no transient failure was exercised")
	}
	// Everything was read, and the input has no transaction markers: every
	// partition the worker fetched from reports no lag.
	lags, err := testutil.GatherAndCount(reg, "reftrack_consumer_lag_records")
	if err != nil || lags == 0 {
		t.Errorf("consumer lag gauges: %d, %v", lags, err)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "reftrack_consumer_lag_records" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetGauge().GetValue() != 0 {
				t.Errorf("lag %v after consuming everything: %v", m.GetLabel(), m.GetGauge().GetValue())
			}
		}
	}
	for _, r := range dead {
		var rej schemas.Rejection
		if err := json.Unmarshal(r.Value, &rej); err != nil {
			t.Fatal(err)
		}
		orig := string(rej.Original)
		if rej.Stage != "test" || rej.SourceTopic != prefix+schemas.TopicValid || len(rej.Reasons) == 0 {
			t.Errorf("dead letter %+v", rej)
		}
		if strings.HasPrefix(orig, "bad") && rej.Reasons[0].Code != "bad_value" {
			t.Errorf("dead letter of %s has reason %+v", orig, rej.Reasons)
		}
		if strings.HasPrefix(orig, "panic") && (rej.Reasons[0].Code != "permanent" || !strings.Contains(rej.Reasons[0].Message, "poison")) {
			t.Errorf("dead letter of %s has reason %+v", orig, rej.Reasons)
		}
		hdr := map[string]string{}
		for _, h := range r.Headers {
			hdr[h.Key] = string(h.Value)
		}
		for _, k := range []string{"error", "stage", "source_topic", "source_partition", "source_offset", "failed_at"} {
			if hdr[k] == "" {
				t.Errorf("dead letter of %s lacks header %s", orig, k)
			}
		}
	}
}

func TestObserveLag(t *testing.T) {
	t.Parallel()
	m := newMetrics(prometheus.NewRegistry(), "t")
	recs := func(offs ...int64) []*kgo.Record {
		var rs []*kgo.Record
		for _, o := range offs {
			rs = append(rs, &kgo.Record{Offset: o})
		}
		return rs
	}
	m.observeLag(kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: "a", Partitions: []kgo.FetchPartition{
		{Partition: 0, HighWatermark: 100, LastStableOffset: 90, Records: recs(39, 40)},
		{Partition: 1, HighWatermark: 100, LastStableOffset: -1, Records: recs(40)},
		{Partition: 2, HighWatermark: 100, LastStableOffset: 100, Records: recs(100)}, // past the LSO: no negative lag
		{Partition: 3, HighWatermark: 100, LastStableOffset: 100},                     // nothing fetched: no gauge
	}}}}})
	for part, want := range map[string]float64{"0": 49, "1": 59, "2": 0} {
		if got := testutil.ToFloat64(m.lag.WithLabelValues("a", part)); got != want {
			t.Errorf("partition %s lag %v, want %v", part, got, want)
		}
	}
	if n := testutil.CollectAndCount(m.lag); n != 3 {
		t.Errorf("%d lag gauges, want 3", n)
	}
	if got := testutil.ToFloat64(m.end.WithLabelValues("a", "1")); got != 100 {
		t.Errorf("partition 1 end offset %v, want its high watermark 100", got)
	}
}

// consume reads want records with read_committed, then keeps reading briefly
// so that extra (duplicate) records would be seen too.
// kafkaFixture starts an in-process broker with every topic under prefix
// and returns its addresses, a valid runtime config pointing at it and a
// producer, closed when the test ends.
func kafkaFixture(t *testing.T, prefix string, batchMax int) ([]string, Config, *kgo.Client) {
	t.Helper()
	brokers := testenv.Kafka(t, 3, schemas.AllTopics(prefix)...)
	cfg := Config{Brokers: strings.Join(brokers, ","), TopicPrefix: prefix, Group: "g", Instance: "0",
		BatchMax: batchMax, ShutdownTimeout: 5 * time.Second, LogFormat: "text", LogLevel: "info"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	return brokers, cfg, prod
}

func consume(t *testing.T, brokers []string, topic string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	return testenv.ReadExactly(t, cl, topic, want)
}

func TestParseFlagsEnvFallback(t *testing.T) {
	t.Parallel()
	var cfg Config
	fs := flagSet(&cfg)
	env := map[string]string{"REFTRACK_BROKERS": "k1:9092,k2:9092", "REFTRACK_BATCH_MAX": "10", "REFTRACK_GROUP": "from-env"}
	if err := ParseFlags(fs, []string{"--group", "from-flag"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if cfg.Group != "from-flag" || cfg.BatchMax != 10 || len(cfg.BrokerList()) != 2 {
		t.Errorf("flags must win over env, env over defaults: %+v", cfg)
	}
	bad := map[string]string{"REFTRACK_BATCH_MAX": "many"}
	if err := ParseFlags(flagSet(&Config{}), nil, func(k string) string { return bad[k] }); err == nil || !strings.Contains(err.Error(), "REFTRACK_BATCH_MAX") {
		t.Errorf("bad env value error = %v, want one naming the variable", err)
	}
}

func TestValidateReportsEverything(t *testing.T) {
	t.Parallel()
	cfg := Config{Brokers: " , ", Group: "", Instance: "a b", BatchMax: 0, FetchMaxBytes: 10, ShutdownTimeout: 0, LogFormat: "xml", LogLevel: "loud"}
	err := cfg.Validate()
	for _, want := range []string{"--brokers", "--group", "--instance", "--batch-max", "--fetch-max-bytes", "--shutdown-timeout", "--log-format", "--log-level"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, missing %s", err, want)
		}
	}
}

func TestAddByTopic(t *testing.T) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "c"}, []string{"topic"})
	var recs []*kgo.Record
	for _, topic := range []string{"a", "a", "b", "a", "c", "c"} {
		recs = append(recs, &kgo.Record{Topic: topic})
	}
	addByTopic(c, recs)
	addByTopic(c, nil)
	for topic, want := range map[string]float64{"a": 3, "b": 1, "c": 2} {
		if got := testutil.ToFloat64(c.WithLabelValues(topic)); got != want {
			t.Errorf("%s counted %v, want %v", topic, got, want)
		}
	}
}
