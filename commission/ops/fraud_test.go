package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrack/reftrack/commission"
	"github.com/reftrack/reftrack/internal/kafkaconn"
	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/internal/workertest"
	"github.com/reftrack/reftrack/schemas"
)

func TestVelocityRefusesBadFlags(t *testing.T) {
	t.Parallel()
	ok := velocityScan{pl: pipeline{kafka: kafkaconn.Config{Brokers: kafkaconn.DefaultBrokers}}, window: 24 * time.Hour, max: 5, count: countConversions, windows: 2}
	tests := []struct {
		name string
		edit func(*velocityScan)
		want string // in the error; "" for none
	}{
		{"complete", func(*velocityScan) {}, ""},
		{"no max", func(v *velocityScan) { v.max = 0 }, "--max 0"},
		{"sub-minute window", func(v *velocityScan) { v.window = 90 * time.Second }, "--window 1m30s"},
		{"unknown count", func(v *velocityScan) { v.count = "touches" }, `--count "touches"`},
		{"no windows", func(v *velocityScan) { v.windows = 0 }, "--windows 0"},
		{"bad at", func(v *velocityScan) { v.at = "yesterday" }, `--at "yesterday"`},
		{"sasl without a login", func(v *velocityScan) { v.pl.kafka.Security.SASLMechanism = "scram-sha-512" }, "--kafka-sasl-user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := ok
			tt.edit(&v)
			err := v.check()
			if (err == nil) != (tt.want == "") || err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("check: %v, want %q", err, tt.want)
			}
		})
	}
}

// attRow is one touch row of the attributions table.
func attRow(att string, version int64, partner, payee string, at time.Time, paid, excluded uint8) []any {
	typ, id, _ := strings.Cut(payee, ":")
	return []any{att, version, partner, "L-" + att, at, "last_touch", paid, "t-" + att + "-" + id, id, typ, excluded, uint16(10000)}
}

const attInsert = `INSERT INTO attributions (attribution_id, version, partner_id, lead_id, converted_at, model, paid,
	touch_event_id, referrer_id, referrer_type, excluded, weight_bp)`

// entryRow is one row of commission_entries.
func entryRow(id, kind, partner, payee string, amount int64, period, holdUntil, corrects, decision, actor string, level uint8) []any {
	typ, pid, _ := strings.Cut(payee, ":")
	return []any{id, kind, partner, "L-" + id, "att-" + id, pid, typ, "USD", amount, month(period), month(period), corrects, holdUntil, decision, actor, level}
}

const entryInsert = `INSERT INTO commission_entries (entry_id, kind, partner_id, lead_id, attribution_id, payee_id, payee_type, currency,
	amount_minor, period, posted_at, corrects, hold_until, decision, actor, override_level)`

// velocityData: in the day 2026-11-20, acme's agent:A-1 has 3 conversions
// (over a max of 2); every other referrer is at or under it only when
// counted right: acme's A-2 has 2 and globex's A-2 1 (3 if referrers were
// not the partner's), A-3 a third conversion the day before, A-4 a third
// touch a newer version of its attribution dropped, A-5 a third only in an
// unpaid model and one excluded.
func velocityData(t *testing.T, conn driver.Conn, day time.Time) {
	t.Helper()
	in := day.Add(time.Hour)
	insert(t, conn, attInsert,
		attRow("c1", 1, "acme", "agent:A-1", in, 1, 0), attRow("c2", 1, "acme", "agent:A-1", in, 1, 0), attRow("c3", 2, "acme", "agent:A-1", in, 1, 0),
		attRow("c4", 1, "acme", "agent:A-2", in, 1, 0), attRow("c5", 1, "acme", "agent:A-2", in, 1, 0), attRow("c6", 1, "globex", "agent:A-2", in, 1, 0),
		attRow("c7", 1, "acme", "agent:A-3", in, 1, 0), attRow("c8", 1, "acme", "agent:A-3", in, 1, 0), attRow("c9", 1, "acme", "agent:A-3", day.Add(-time.Hour), 1, 0),
		attRow("c10", 1, "acme", "agent:A-4", in, 1, 0), attRow("c11", 1, "acme", "agent:A-4", in, 1, 0),
		attRow("c12", 1, "acme", "agent:A-4", in, 1, 0), attRow("c12", 2, "acme", "agent:A-9", in, 1, 0),
		attRow("c13", 1, "acme", "agent:A-5", in, 1, 0), attRow("c14", 1, "acme", "agent:A-5", in, 1, 0),
		attRow("c15", 1, "acme", "agent:A-5", in, 0, 0), attRow("c16", 1, "acme", "agent:A-5", in, 1, 1))
}

// TestVelocityScan (issue #18: velocity per referrer, counted in
// ClickHouse, which sees every partition): the scan finds the referrers
// over the limit per partner, and holds each of their positive direct
// accruals a hold can still stop — not one released before this month,
// superseded, decided, or held by velocity already; one held by another
// rule is held again, for this reason.
func TestVelocityScan(t *testing.T) {
	t.Parallel()
	conn, _ := testenv.ClickHouse(t, "velocity_scan_test", true)
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	velocityData(t, conn, day)
	const a1 = "agent:A-1"
	insert(t, conn, entryInsert,
		entryRow("e01", "accrual", "acme", a1, 1000, "2026-11", "", "", "", "", 0),                             // pending
		entryRow("e02", "accrual", "acme", a1, 2000, "2026-11", "2026-12-10", "", "", "", 0),                   // in its hold
		entryRow("e03", "accrual", "acme", a1, 3000, "2026-10", "2026-10-15", "", "", "", 0),                   // released in October
		entryRow("e04", "accrual", "acme", a1, 0, "2026-11", "", "", "", "", 0),                                // of 0
		entryRow("e05", "accrual", "acme", a1, 500, "2026-11", "", "", "", "", 0),                              // superseded
		entryRow("r05", "reversal", "acme", a1, -500, "2026-11", "", "e05", "", "", 0),                         //
		entryRow("e06", "accrual", "acme", a1, 700, "2026-11", "", "", "", "", 0),                              // approved
		entryRow("d06", "decision", "acme", a1, 0, "2026-11", "", "e06", "approve", "ops", 0),                  //
		entryRow("e07", "accrual", "acme", a1, 70, "2026-11", "", "", "", "", 1),                               // an override
		entryRow("e08", "accrual", "acme", a1, 800, "2026-11", "", "", "", "", 0),                              // held by velocity
		entryRow("h08", "decision", "acme", a1, 0, "2026-11", "", "e08", "hold", "rule:velocity@window=1h", 0), //
		entryRow("e09", "accrual", "acme", a1, 900, "2026-11", "2026-12-01", "", "", "", 0),                    // held by name too
		entryRow("h09", "decision", "acme", a1, 0, "2026-11", "", "e09", "hold", "rule:banned@v1", 0),          //
		entryRow("e13", "accrual", "acme", a1, 1300, "2026-10", "2026-10-01", "", "", "", 0),                   // held by name, hold_until passed: held already, the stage cannot tell
		entryRow("h13", "decision", "acme", a1, 0, "2026-10", "", "e13", "hold", "rule:banned@v1", 0),          //
		entryRow("e10", "accrual", "globex", a1, 1000, "2026-11", "", "", "", "", 0),                           // another partner's A-1
		entryRow("e11", "accrual", "acme", a1, 1100, "2026-10", "2026-11-01", "", "", "", 0),                   // released this month
		entryRow("e12", "accrual", "acme", "agent:A-2", 1200, "2026-11", "", "", "", "", 0))                    // under the limit
	v := velocityScan{window: 24 * time.Hour, max: 2, count: countConversions, windows: 1}
	offenders, err := v.offenders(context.Background(), conn, day)
	if want := []offender{{"acme", "agent", "A-1", 3}}; err != nil || !slices.Equal(offenders, want) {
		t.Errorf("offenders %+v, %v; want %+v", offenders, err, want)
	}
	holds, err := v.scan(context.Background(), conn, day.Add(13*time.Hour), time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range holds {
		got = append(got, h.PartnerID+" "+h.Payee+" "+h.EntryID)
		if h.Counted != 3 || h.Actor != "rule:velocity@window=24h0m0s,max=2,count=conversions,from=2026-11-20T00:00:00Z" ||
			h.RequestID != velocityRequestID(h.EntryID, v.params(day)) || h.LeadID != "L-"+h.EntryID || h.AttributionID != "att-"+h.EntryID {
			t.Errorf("hold %+v", h)
		}
	}
	if want := []string{"acme agent:A-1 e01", "acme agent:A-1 e02", "acme agent:A-1 e09", "acme agent:A-1 e11"}; !slices.Equal(got, want) {
		t.Errorf("holds %q\nwant  %q", got, want)
	}
}

// TestVelocityLeads: counted by leads, a referrer over the limit is one
// with more distinct leads created in the window, per partner.
func TestVelocityLeads(t *testing.T) {
	t.Parallel()
	conn, _ := testenv.ClickHouse(t, "velocity_leads_test", true)
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	ev := func(id, partner, lead, referrer string, at time.Time) []any {
		return []any{id, schemas.TypeReferralCreated, partner, lead, at, at, referrer, "agent"}
	}
	in := day.Add(time.Hour)
	insert(t, conn, `INSERT INTO referral_events (event_id, event_type, partner_id, lead_id, occurred_at, received_at, referrer_id, referrer_type)`,
		ev("r1", "acme", "L1", "A-1", in), ev("r2", "acme", "L2", "A-1", in), ev("r3", "acme", "L2", "A-1", in), // 2 leads
		ev("r4", "acme", "L3", "A-2", in), ev("r5", "acme", "L4", "A-2", in), ev("r6", "acme", "L5", "A-2", in), // 3 leads
		ev("r7", "globex", "L6", "A-1", in), ev("r8", "acme", "L7", "A-1", day.Add(-time.Minute)))
	v := velocityScan{window: 24 * time.Hour, max: 2, count: countLeads, windows: 1}
	got, err := v.offenders(context.Background(), conn, day)
	if err != nil {
		t.Fatal(err)
	}
	if want := []offender{{"acme", "agent", "A-2", 3}}; !slices.Equal(got, want) {
		t.Errorf("offenders %+v, want %+v", got, want)
	}
}

// TestVelocityPostsDeterministicRequests: the command requests a hold per
// accrual, keyed by the accrual's lead on the attributions topic, and a
// re-run over the same window sends the very same requests (ids, entries,
// actors), which the stage posts once; --dry-run sends nothing.
func TestVelocityPostsDeterministicRequests(t *testing.T) {
	t.Parallel()
	conn, dsn := testenv.ClickHouse(t, "velocity_cmd_test", true)
	topic := "p." + schemas.TopicAttributions
	brokers := testenv.Kafka(t, 2, topic)
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	velocityData(t, conn, day)
	insert(t, conn, entryInsert,
		entryRow("e01", "accrual", "acme", "agent:A-1", 1000, "2026-11", "", "", "", "", 0),
		entryRow("e02", "accrual", "acme", "agent:A-1", 2000, "2026-11", "2099-01-01", "", "", "", 0),
		entryRow("e03", "accrual", "acme", "agent:A-2", 3000, "2026-11", "", "", "", "", 0))
	args := []string{"velocity", "--clickhouse", dsn, "--brokers", strings.Join(brokers, ","), "--topic-prefix", "p.",
		"--max", "2", "--window", "24h", "--windows", "2", "--at", day.Add(30 * time.Hour).Format(time.RFC3339)}
	run := func(extra ...string) string {
		var out bytes.Buffer
		if err := Velocity(context.Background(), append(slices.Clone(args), extra...), func(string) string { return "" }, &out); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	if out := run("--dry-run"); !strings.Contains(out, "2 velocity holds would request (dry run)") {
		t.Errorf("dry run printed %q", out)
	}
	run()
	run()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := testenv.ReadExactly(t, cl, "hold requests of two runs", 4)
	params := "window=24h0m0s,max=2,count=conversions,from=2026-11-20T00:00:00Z" // the earlier of the two windows flags A-1
	var got []string
	for _, r := range recs {
		var env schemas.Envelope
		var req schemas.DecisionRequested
		if err := schemas.Decode(r.Value, &env); err != nil {
			t.Fatal(err)
		}
		if err := schemas.Decode(env.Payload, &req); err != nil {
			t.Fatal(err)
		}
		if env.EventType != schemas.TypeDecisionRequested || env.EventID != req.RequestID || string(r.Key) != string(schemas.LeadKey("acme", "L-"+req.EntryID)) ||
			req.Decision != schemas.DecisionHold || req.Reason != VelocityReason || req.Actor != "rule:velocity@"+params ||
			req.RequestID != velocityRequestID(req.EntryID, params) || req.AttributionID != "att-"+req.EntryID {
			t.Errorf("request %s: %+v of %+v", r.Key, req, env)
		}
		got = append(got, req.EntryID+" "+req.RequestID)
	}
	slices.Sort(got)
	if got[0] != got[1] || got[2] != got[3] || got[0] == got[2] {
		t.Errorf("two runs requested %q, want each of two holds twice under one id", got)
	}
}

// TestVelocityHoldReachesTheJournal: the requests the command sends for a
// referrer over the limit are read by the stage, which posts a hold
// decision (reason fraud:velocity, the rule's actor) on each accrual; the
// requests of a re-run post nothing more.
func TestVelocityHoldReachesTheJournal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, dsn := testenv.ClickHouse(t, "velocity_journal_test", true)
	topic := "p." + schemas.TopicAttributions
	brokers := testenv.Kafka(t, 1, topic)
	rdb, prefix := testenv.Redis(t)
	rules, err := commission.ParseRules([]byte(`{"version":"v","rules":[{"id":"all","when":"true","amount":{"percent":"10"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	c := &commission.Calculator{Redis: rdb, Prefix: prefix, Keep: time.Hour, Metrics: commission.NewMetrics(prometheus.NewRegistry())}
	c.Use(rules)
	st := workertest.NewState(t, "commission", rdb, prefix)
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	var accruals []schemas.JournalEntry
	for _, lead := range []string{"L-1", "L-2", "L-3"} {
		res := batch(t, st, c, []worker.Message{velocityAttribution(t, lead, day.Add(time.Hour))})
		if res[0].Err != nil || len(res[0].Out) != 1 {
			t.Fatalf("accrual of %s: %+v", lead, res)
		}
		a := entryOf(t, res[0].Out[0].Value)
		accruals = append(accruals, a)
		insert(t, conn, attInsert, attRow(a.AttributionID, 1, "acme", "agent:A-1", day.Add(time.Hour), 1, 0))
		insert(t, conn, `INSERT INTO commission_entries (entry_id, kind, partner_id, lead_id, attribution_id, payee_id, payee_type, currency,
			amount_minor, period, posted_at, hold_until, override_level)`,
			[]any{a.EntryID, a.Kind, a.PartnerID, a.LeadID, a.AttributionID, a.PayeeID, a.PayeeType, a.Currency, a.AmountMinor,
				month(a.Period), month(a.Period), a.HoldUntil, uint8(0)})
	}
	args := []string{"velocity", "--clickhouse", dsn, "--brokers", strings.Join(brokers, ","), "--topic-prefix", "p.",
		"--max", "2", "--windows", "1", "--at", day.Add(12 * time.Hour).Format(time.RFC3339)}
	for range 2 {
		if err := Velocity(ctx, args, func(string) string { return "" }, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var msgs []worker.Message
	for _, r := range testenv.ReadExactly(t, cl, "hold requests of two runs", 6) {
		msgs = append(msgs, worker.Message{Partition: 0, Key: r.Key, Value: r.Value})
	}
	held := map[string]string{}
	for i, r := range batch(t, st, c, msgs) {
		if r.Err != nil {
			t.Fatalf("request %d refused: %v", i, r.Err)
		}
		for _, o := range r.Out {
			e := entryOf(t, o.Value)
			if e.Kind != schemas.EntryDecision || e.Decision != schemas.DecisionHold || e.Reason != VelocityReason || !strings.HasPrefix(e.Actor, "rule:velocity@") {
				t.Errorf("posted %+v", e)
			}
			if _, twice := held[e.Corrects]; twice {
				t.Errorf("accrual %s held twice", e.Corrects)
			}
			held[e.Corrects] = e.Actor
		}
	}
	for _, a := range accruals {
		if held[a.EntryID] == "" {
			t.Errorf("accrual %s of %s not held", a.EntryID, a.LeadID)
		}
	}
}

// velocityAttribution is a conversion of lead credited to agent:A-1 of
// acme, effective far ahead so its hold_until releases it in no month a
// test runs in.
func velocityAttribution(t *testing.T, lead string, at time.Time) worker.Message {
	t.Helper()
	att := schemas.AttributionCalculated{Version: 1, PolicyEventID: "pe-" + lead, PaidModel: "linear",
		Policy: schemas.PolicyIssued{PolicyID: "P-" + lead, ProductLine: "auto", AnnualPremium: "1000.00", Currency: "USD",
			TermMonths: 12, EffectiveDate: "2099-01-01", SaleType: schemas.SaleNewBusiness},
		Touchpoints: []schemas.Touchpoint{{Touch: schemas.Touch{EventID: "t-" + lead, ReferrerID: "A-1", ReferrerType: "agent"}, Weights: map[string]int{"linear": 10000}}}}
	payload, err := json.Marshal(att)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(schemas.Envelope{EventID: "att-" + lead, EventType: schemas.TypeAttributionCalculated, SchemaVersion: 1,
		OccurredAt: at, ReceivedAt: &at, PartnerID: "acme", LeadID: lead, Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	return worker.Message{Partition: 0, Key: schemas.LeadKey("acme", lead), Value: b}
}
