package worker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/internal/testenv"
)

// At half capacity a poll held a few records, so every stage paid a
// transaction (five broker round trips and two to Redis) per few records:
// the profile of the latency phase put most of each stage's CPU and the
// broker's there. The consumers of Run and RunStore ask the broker to hold
// a fetch until it has --fetch-min-bytes or --fetch-max-wait has passed, so
// a poll at a low rate brings a batch worth a transaction.
func TestConsumersAskTheBrokerToWaitForABatch(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		args     []string
		minBytes int32
		maxWait  time.Duration
	}{
		{"defaults", nil, 64 << 10, 50 * time.Millisecond},
		{"flags", []string{"--fetch-min-bytes", "1", "--fetch-max-wait", "10ms"}, 1, 10 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var cfg Config
			if err := flagSet(&cfg).Parse(c.args); err != nil {
				t.Fatal(err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			opts, err := commonOpts(cfg, "test", discard(), prometheus.NewRegistry(), consumerOpts(cfg)...)
			if err != nil {
				t.Fatal(err)
			}
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			if got := cl.OptValue(kgo.FetchMinBytes); got != c.minBytes {
				t.Errorf("fetch min bytes %v, want %d", got, c.minBytes)
			}
			if got := cl.OptValue(kgo.FetchMaxWait); got != c.maxWait {
				t.Errorf("fetch max wait %v, want %s", got, c.maxWait)
			}
		})
	}
}

// TestPollWaitsForMinBytes holds what the options are for, against kfake:
// a poll that starts with one record waiting returns only once the broker
// holds --fetch-min-bytes (the max wait is far longer than the test).
func TestPollWaitsForMinBytes(t *testing.T) {
	t.Parallel()
	brokers := testenv.Kafka(t, 4, "in")
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("in"), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	value := make([]byte, 1000)
	produce := func(i int) {
		t.Helper()
		r := &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: value}
		if err := prod.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	const n = 8
	produce(0)
	cfg := Config{Brokers: brokers[0], FetchMinBytes: n * len(value), FetchMaxWait: time.Minute}
	opts, err := commonOpts(cfg, "test", discard(), prometheus.NewRegistry(), append(consumerOpts(cfg),
		kgo.ConsumeTopics("in"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	polled := make(chan int, 1)
	go func() { polled <- cons.PollFetches(context.Background()).NumRecords() }()
	for i := 1; i < n; i++ {
		produce(i)
	}
	if got := <-polled; got != n {
		t.Errorf("the first poll returned %d records, want the %d that make --fetch-min-bytes", got, n)
	}
}
