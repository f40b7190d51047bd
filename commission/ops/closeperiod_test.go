package ops

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/commission"
	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/internal/workertest"
	"github.com/reftrack/reftrack/schemas"
)

func TestCheckRefusesBadFlags(t *testing.T) {
	t.Parallel()
	ok := periodClose{period: "2026-10", partner: "acme", actor: "ops", id: "c-1"}
	tests := []struct {
		name string
		edit func(*periodClose)
		want string // "" for accepted
	}{
		{"accepted", func(*periodClose) {}, ""},
		{"all partners", func(r *periodClose) { r.partner, r.all = "", true }, ""},
		{"both", func(r *periodClose) { r.all = true }, "exactly one of --partner and --all"},
		{"neither", func(r *periodClose) { r.partner = "" }, "exactly one of --partner and --all"},
		{"the all spelling as a partner", func(r *periodClose) { r.partner = "*" }, "use --all"},
		{"a day, not a month", func(r *periodClose) { r.period = "2026-10-01" }, "--period"},
		{"no actor", func(r *periodClose) { r.actor = " " }, "--actor is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := ok
			tt.edit(&r)
			err := r.check()
			if (tt.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

// TestCloseReachesEveryPartition (issue #13, period close): the command
// writes the close on every partition of attributions, so the stage's
// state of each partition closes the period; an attribution of the closed
// month processed after it, on any partition, posts in the next month.
func TestCloseReachesEveryPartition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const parts = 3
	topic := "p." + schemas.TopicAttributions
	brokers := testenv.Kafka(t, parts, topic)
	args := []string{"close-period", "--brokers", brokers[0], "--topic-prefix", "p.", "--period", "2026-10", "--all", "--actor", "ops", "--request-id", "c-1", "--wait", "0"}
	if err := ClosePeriod(ctx, args, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var msgs []worker.Message
	seen := map[int32]int{}
	for len(msgs) < parts {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			seen[r.Partition]++
			msgs = append(msgs, worker.Message{Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value})
		})
	}
	for p := int32(0); p < parts; p++ {
		if seen[p] != 1 {
			t.Errorf("partition %d got %d closes, want 1", p, seen[p])
		}
	}
	rdb, prefix := testenv.Redis(t)
	rules, err := commission.ParseRules([]byte(`{"version":"v","rules":[{"id":"all","when":"true","amount":{"percent":"10"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	c := &commission.Calculator{Redis: rdb, Prefix: prefix, Keep: time.Hour, Metrics: commission.NewMetrics(prometheus.NewRegistry())}
	c.Use(rules)
	st := workertest.NewState(t, "commission", rdb, prefix)
	for _, res := range batch(t, st, c, msgs) {
		if res.Err != nil || len(res.Out) != 0 {
			t.Fatalf("close: %+v", res)
		}
	}
	for p := int32(0); p < parts; p++ {
		res := batch(t, st, c, []worker.Message{octoberAttribution(t, p)})
		if len(res[0].Out) == 0 {
			t.Fatalf("partition %d: nothing posted: %+v", p, res)
		}
		for _, o := range res[0].Out {
			var env schemas.Envelope
			var e schemas.JournalEntry
			if err := json.Unmarshal(o.Value, &env); err != nil || json.Unmarshal(env.Payload, &e) != nil {
				t.Fatal(err)
			}
			if e.Period != "2026-11" {
				t.Errorf("partition %d: %s posted in %s, want 2026-11", p, e.Kind, e.Period)
			}
		}
	}
}

func batch(t *testing.T, st *workertest.State, c *commission.Calculator, msgs []worker.Message) []worker.Result {
	t.Helper()
	res, err := st.Batch(context.Background(), c, msgs)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// octoberAttribution is an attribution received in October 2026, of a lead
// on input partition p.
func octoberAttribution(t *testing.T, p int32) worker.Message {
	t.Helper()
	att := schemas.AttributionCalculated{Version: 1, PolicyEventID: "pe", PaidModel: "linear",
		Policy: schemas.PolicyIssued{PolicyID: "P", ProductLine: "auto", AnnualPremium: "1000.00", Currency: "USD",
			TermMonths: 12, EffectiveDate: "2026-10-01", SaleType: schemas.SaleNewBusiness},
		Touchpoints: []schemas.Touchpoint{{Touch: schemas.Touch{EventID: "t", ReferrerID: "A-1", ReferrerType: "agent"}, Weights: map[string]int{"linear": 10000}}}}
	payload, _ := json.Marshal(att)
	at := time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC)
	lead := "L-" + string(rune('a'+p))
	b, err := json.Marshal(schemas.Envelope{EventID: "att-" + lead, EventType: schemas.TypeAttributionCalculated, SchemaVersion: 1,
		OccurredAt: at, ReceivedAt: &at, PartnerID: "acme", LeadID: lead, Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	return worker.Message{Partition: p, Key: schemas.LeadKey("acme", lead), Value: b}
}
