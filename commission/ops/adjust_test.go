package ops

import (
	"context"
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
	"github.com/reftrack/reftrack/schemas/money"
)

func TestRecordRefusesBadFlags(t *testing.T) {
	t.Parallel()
	ok := adjustment{partner: "acme", payee: "agent:A-1", currency: "USD", amount: "-12.50", reason: "r", actor: "a", id: "req-1"}
	tests := []struct {
		name string
		edit func(*adjustment)
		want string // "" for accepted
	}{
		{"accepted", func(*adjustment) {}, ""},
		{"no partner", func(r *adjustment) { r.partner = "" }, "--partner is required"},
		{"no actor or reason", func(r *adjustment) { r.actor, r.reason = " ", "" }, "--actor is required"},
		{"payee without type", func(r *adjustment) { r.payee = "A-1" }, "want type:id"},
		{"too many decimals", func(r *adjustment) { r.amount = "1.005" }, "--amount"},
		{"unknown currency", func(r *adjustment) { r.currency = "XXX" }, "--amount"},
		{"zero", func(r *adjustment) { r.amount = "-0.00" }, "changes nothing"},
		{"two signs", func(r *adjustment) { r.amount = "--1" }, "--amount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := ok
			tt.edit(&r)
			_, err := r.record("p.", time.Now())
			if (tt.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func FuzzSignedMinor(f *testing.F) {
	for _, s := range []string{"-12.50", "+1", "0.01", "--1", "-", "", "1e3", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := signedMinor(s, "USD")
		if err != nil {
			return
		}
		// What parsed formats back to the same amount.
		text, err := money.FormatMinor(v, "USD")
		if err != nil {
			t.Fatal(err)
		}
		again, err := signedMinor(text, "USD")
		if err != nil || again != v {
			t.Fatalf("%q → %d → %q → %d, %v", s, v, text, again, err)
		}
	})
}

// TestAdjustReachesTheJournal: what the command produces, the stage posts
// as one adjustment entry, once however often it is sent.
func TestAdjustReachesTheJournal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	brokers := testenv.Kafka(t, 1, "p."+schemas.TopicAttributions)
	args := []string{"adjust", "--brokers", brokers[0], "--topic-prefix", "p.", "--partner", "acme", "--payee", "agent:A-1",
		"--currency", "USD", "--amount", "-12.50", "--reason", "duplicate payment", "--actor", "ops@acme", "--request-id", "req-7"}
	for range 2 {
		if err := Adjust(ctx, args, func(string) string { return "" }); err != nil {
			t.Fatal(err)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("p."+schemas.TopicAttributions),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var msgs []worker.Message
	for len(msgs) < 2 {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			msgs = append(msgs, worker.Message{Partition: 0, Offset: r.Offset, Key: r.Key, Value: r.Value})
		})
	}
	if got := string(msgs[0].Key); got != "acme|adjustment:req-7" {
		t.Errorf("key %q, want acme|adjustment:req-7", got)
	}
	rdb, prefix := testenv.Redis(t)
	rules, err := commission.ParseRules([]byte(`{"version":"v","rules":[{"id":"all","when":"true","amount":{"percent":"1"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	c := &commission.Calculator{Redis: rdb, Prefix: prefix, Keep: time.Hour, Metrics: commission.NewMetrics(prometheus.NewRegistry())}
	c.Use(rules)
	res, err := workertest.NewState(t, "commission", rdb, prefix).Batch(ctx, c, msgs)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || len(res[0].Out) != 1 || len(res[1].Out) != 0 {
		t.Fatalf("results %+v", res)
	}
	var env schemas.Envelope
	var e schemas.JournalEntry
	if err := schemas.Decode(res[0].Out[0].Value, &env); err != nil {
		t.Fatal(err)
	}
	if err := schemas.Decode(env.Payload, &e); err != nil {
		t.Fatal(err)
	}
	if e.Kind != schemas.EntryAdjustment || e.AmountMinor != -1250 || e.PayeeID != "A-1" || e.Actor != "ops@acme" ||
		e.Reason != "duplicate payment" || e.PartnerID != "acme" || e.CauseID != "req-7" {
		t.Errorf("entry %+v", e)
	}
}
