package dlq

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/internal/kafkaconn"
	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/schemas"
)

func TestFilter(t *testing.T) {
	t.Parallel()
	r := Record{Rejection: schemas.Rejection{Stage: "validate", SourceTopic: "referrals.ingested",
		Reasons: []schemas.Reason{{Code: "schema_violation"}, {Code: "invalid_phone"}}}}
	tests := []struct {
		f    Filter
		want bool
	}{
		{Filter{}, true},
		{Filter{Stage: "validate", Code: "invalid_phone"}, true},
		{Filter{Stage: "ingest"}, false},
		{Filter{Code: "malformed_json"}, false},
		{Filter{Source: "referrals.inbound"}, false},
	}
	for _, tt := range tests {
		if got := tt.f.Match(r); got != tt.want {
			t.Errorf("%+v.Match = %v, want %v", tt.f, got, tt.want)
		}
	}
}

// TestRedrive: chosen dead letters go back to their source topic with
// their original bytes, once.
func TestRedrive(t *testing.T) {
	t.Parallel()
	const dlqTopic, ingested, inbound = "referrals.rejected", "referrals.ingested", "referrals.inbound"
	brokers := testenv.Kafka(t, 2, dlqTopic, ingested, inbound)
	rdb, prefix := testenv.Redis(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	for i, rej := range []schemas.Rejection{
		{Stage: "validate", SourceTopic: ingested, Reasons: []schemas.Reason{{Code: "schema_violation"}}, Original: []byte(`{"a":1}`), Key: []byte("L1")},
		{Stage: "ingest", SourceTopic: inbound, Reasons: []schemas.Reason{{Code: "malformed_json"}}, Original: []byte(`{"a":`), Key: []byte("L2")},
		{Stage: "validate", SourceTopic: ingested, Reasons: []schemas.Reason{{Code: "unknown_currency"}}, Original: []byte(`{"b":2}`), Key: []byte("L3")},
	} {
		v, _ := json.Marshal(rej)
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: dlqTopic, Key: []byte{byte('a' + i)}, Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := Read(ctx, kafkaconn.Config{Brokers: strings.Join(brokers, ",")}, dlqTopic)
	if err != nil || len(recs) != 3 {
		t.Fatalf("read %d dead letters, %v", len(recs), err)
	}
	f := Filter{Stage: "validate"}
	if dry, err := Redrive(ctx, cl, rdb, prefix, recs, f, true); err != nil || len(dry) != 2 {
		t.Fatalf("dry run: %d, %v", len(dry), err)
	}
	for round, want := range []int{2, 0} { // the second run finds both marked
		sent, err := Redrive(ctx, cl, rdb, prefix, recs, f, false)
		if err != nil || len(sent) != want {
			t.Fatalf("round %d: re-drove %d, %v; want %d", round, len(sent), err, want)
		}
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(ingested, inbound), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var got []*kgo.Record
	for deadline := time.Now().Add(10 * time.Second); len(got) < 2 && time.Now().Before(deadline); {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		got = append(got, cons.PollFetches(pctx).Records()...)
		cancel()
	}
	pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	got = append(got, cons.PollFetches(pctx).Records()...)
	cancel()
	if len(got) != 2 {
		t.Fatalf("%d records re-driven, want 2", len(got))
	}
	for _, r := range got {
		if r.Topic != ingested || (string(r.Value) != `{"a":1}` && string(r.Value) != `{"b":2}`) || len(r.Headers) == 0 {
			t.Errorf("re-driven %s %s %s", r.Topic, r.Key, r.Value)
		}
	}
}
