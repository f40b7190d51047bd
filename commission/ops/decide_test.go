package ops

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reftrack/reftrack/commission"
	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/internal/workertest"
	"github.com/reftrack/reftrack/schemas"
)

func TestDecideRefusesBadFlags(t *testing.T) {
	t.Parallel()
	ok := decision{entry: "e-1", reason: "fraud", actor: "ops", id: "r", decline: true}
	tests := []struct {
		name string
		edit func(*decision)
		want string // in the error; "" for none
	}{
		{"complete", func(*decision) {}, ""},
		{"both", func(d *decision) { d.approve = true }, "exactly one of --approve and --decline"},
		{"neither", func(d *decision) { d.decline = false }, "exactly one of --approve and --decline"},
		{"no reason, no actor", func(d *decision) { d.reason, d.actor = " ", "" }, "--actor is required"},
		{"no entry", func(d *decision) { d.entry = "" }, "--entry is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := ok
			tt.edit(&d)
			err := d.check()
			if (err == nil) != (tt.want == "") || err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("check: %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := ok.record("", schemas.JournalEntry{EntryID: "e-1", Kind: schemas.EntryReversal}, time.Now()); err == nil {
		t.Error("a decision on a reversal was produced")
	}
}

// TestDeclineReachesTheJournal: the request the command produces for an
// accrual is keyed by the accrual's lead, and the stage posts from it a
// decision and the reversal of the accrual, so the payee's balance is 0.
func TestDeclineReachesTheJournal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb, prefix := testenv.Redis(t)
	rules, err := commission.ParseRules([]byte(`{"version":"v","rules":[{"id":"all","when":"true","amount":{"percent":"10"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	c := &commission.Calculator{Redis: rdb, Prefix: prefix, Keep: time.Hour, Metrics: commission.NewMetrics(prometheus.NewRegistry())}
	c.Use(rules)
	st := workertest.NewState(t, "commission", rdb, prefix)
	att := `{"event_id":"att-1","event_type":"attribution.calculated","schema_version":1,"occurred_at":"2026-10-02T08:00:00Z","partner_id":"acme","lead_id":"L-1",
	"payload":{"version":1,"policy_event_id":"p","paid_model":"last_touch","policy":{"policy_id":"P1","product_line":"home","annual_premium":"1000.00","currency":"USD","term_months":12,"effective_date":"2026-10-03","sale_type":"renewal"},
	"touchpoints":[{"event_id":"e1","referrer_id":"A-1","referrer_type":"agent","weights_bp":{"last_touch":10000}}]}}`
	res, err := st.Batch(ctx, c, []worker.Message{{Partition: 1, Key: schemas.LeadKey("acme", "L-1"), Value: []byte(att)}})
	if err != nil || res[0].Err != nil || len(res[0].Out) != 1 {
		t.Fatalf("accrual: %v %+v", err, res)
	}
	accrual := entryOf(t, res[0].Out[0].Value)
	rec, err := decision{entry: accrual.EntryID, decline: true, reason: "fraud", actor: "ops@acme", id: "d-1"}.record("p.", accrual, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(rec.Key), string(schemas.LeadKey("acme", "L-1")); got != want || rec.Topic != "p."+schemas.TopicAttributions {
		t.Errorf("record on %s keyed %q, want %q", rec.Topic, got, want)
	}
	if res, err = st.Batch(ctx, c, []worker.Message{{Partition: 1, Key: rec.Key, Value: rec.Value}}); err != nil || res[0].Err != nil {
		t.Fatalf("decision: %v %+v", err, res)
	}
	balance := accrual.AmountMinor
	var kinds []string
	for _, o := range res[0].Out {
		e := entryOf(t, o.Value)
		balance += e.AmountMinor
		kinds = append(kinds, e.Kind+" "+e.Decision+" "+e.Corrects)
	}
	if want := []string{"decision decline " + accrual.EntryID, "reversal  " + accrual.EntryID}; strings.Join(kinds, ",") != strings.Join(want, ",") || balance != 0 {
		t.Errorf("posted %q, balance %d; want %q, 0", kinds, balance, want)
	}
}

func entryOf(t *testing.T, value []byte) schemas.JournalEntry {
	t.Helper()
	var env schemas.Envelope
	var e schemas.JournalEntry
	if err := schemas.Decode(value, &env); err != nil {
		t.Fatal(err)
	}
	if err := schemas.Decode(env.Payload, &e); err != nil {
		t.Fatal(err)
	}
	return e
}
