package sink

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

var t0 = time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)

func msg(topic string, off int64, v string) worker.Message {
	return worker.Message{Topic: "p." + topic, Partition: 1, Offset: off, Value: []byte(v), Timestamp: t0}
}

func onPartition(p int32, m worker.Message) worker.Message {
	m.Partition = p
	return m
}

const (
	created = `{"event_id":"e1","event_type":"referral.created","schema_version":1,"occurred_at":"2026-10-01T08:00:00Z","received_at":"2026-10-01T08:00:01.5Z",
	"partner_id":"acme","lead_id":"L1","payload":{"referrer":{"id":"a-1","type":"agent"},"channel":"crm","lead":{"name":"Ana","email":"ana@example.com"}}}`
	issued = `{"event_id":"e2","event_type":"policy.issued","schema_version":1,"occurred_at":"2026-10-02T08:00:00Z","partner_id":"acme","lead_id":"L1",
	"payload":{"policy_id":"P1","product_line":"home","annual_premium":"1000.50","currency":"EUR","term_months":12,"effective_date":"2026-10-03","sale_type":"renewal"}}`
	attribution = `{"event_id":"a1","event_type":"attribution.calculated","schema_version":1,"occurred_at":"2026-10-02T08:00:00Z","partner_id":"acme","lead_id":"L1",
	"payload":{"policy_event_id":"e2","paid_model":"last_touch","policy":{"policy_id":"P1","product_line":"home","annual_premium":"1000.50","currency":"EUR","term_months":12,"effective_date":"2026-10-03","sale_type":"renewal"},
	"touchpoints":[{"event_id":"e0","referrer_id":"b-1","referrer_type":"broker","channel":"web","occurred_at":"2026-09-30T08:00:00Z","weights_bp":{"last_touch":0}},
	{"event_id":"e1","referrer_id":"a-1","referrer_type":"agent","channel":"crm","occurred_at":"2026-10-01T08:00:00Z","weights_bp":{"last_touch":10000}}]}}`
	line = `{"event_id":"l1","event_type":"commission.calculated","schema_version":1,"occurred_at":"2026-10-02T08:00:00Z","partner_id":"acme","lead_id":"L1",
	"payload":{"attribution_id":"a1","policy_id":"P1","payee_id":"a-1","payee_type":"agent","product_line":"home","sale_type":"renewal","currency":"EUR",
	"premium_minor":100050,"policy_commission_minor":12506,"weight_bp":10000,"amount_minor":12506,"rule_set_version":"v1","rule_id":"home","model":"last_touch","kind":"commission"}}`
	entry = `{"event_id":"j1","event_type":"commission.entry","schema_version":1,"occurred_at":"2026-10-02T08:00:00Z","received_at":"2026-10-02T08:00:01Z","partner_id":"acme","lead_id":"L1",
	"payload":{"entry_id":"j1","kind":"accrual","payee_id":"a-1","payee_type":"agent","currency":"EUR","amount_minor":12506,"period":"2026-10","cause_id":"a1",
	"attribution_id":"a1","attribution_version":1,"policy_id":"P1","partner_id":"acme","lead_id":"L1","product_line":"home","sale_type":"renewal","model":"last_touch",
	"weight_bp":10000,"rule_set_version":"v1","rule_id":"home","premium_minor":100050,"base_minor":100050,"rate":"12.5","cap_applied":true}}`
	adjustmentRequest = `{"event_id":"r1","event_type":"commission.adjustment_requested","schema_version":1,"occurred_at":"2026-10-02T08:00:00Z","partner_id":"acme","lead_id":"adjustment:r1",
	"payload":{"request_id":"r1","payee_id":"a-1","payee_type":"agent","currency":"EUR","amount_minor":-100,"actor":"ops","reason":"x"}}`
	periodClose = `{"event_id":"c1","event_type":"commission.period_closed","schema_version":1,"occurred_at":"2026-11-01T08:00:00Z","partner_id":"*","lead_id":"period_close:2026-10",
	"payload":{"period":"2026-10","request_id":"c1","actor":"ops","partitions":4}}`
	rejection = `{"stage":"validate","reasons":[{"code":"schema_violation","pointer":"/payload","message":"bad"},{"code":"x","pointer":"","message":"y"}],
	"source_topic":"p.referrals.ingested","source_partition":3,"source_offset":42,"key":"TDE=","original":"e30=","failed_at":"2026-10-01T08:00:00Z"}`
)

func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		topic  string
		in     string
		table  string
		rows   int
		checks map[string]any // column → value in the first row
	}{
		{"touch", schemas.TopicUnique, created, "referral_events", 1, map[string]any{
			"referrer_id": "a-1", "channel": "crm", "received_at_ms": uint64(t0.UnixMilli() + 1500), "kafka_offset": int64(7),
		}},
		{"policy", schemas.TopicUnique, issued, "referral_events", 1, map[string]any{
			"premium_minor": int64(100050), "currency": "EUR", "policy_id": "P1", "received_at_ms": uint64(0),
		}},
		{"attribution", schemas.TopicAttributions, attribution, "attributions", 2, map[string]any{
			"touch_count": uint16(2), "premium_minor": int64(100050), "paid": uint8(1), "referrer_id": "b-1", "weight_bp": uint16(0),
		}},
		{"line", schemas.TopicCommissions, line, "commission_lines", 1, map[string]any{
			"amount_minor": int64(12506), "line_id": "l1", "rule_id": "home", "kind": "commission",
		}},
		{"journal entry", schemas.TopicCommissions, entry, "commission_entries", 1, map[string]any{
			"entry_id": "j1", "kind": "accrual", "amount_minor": int64(12506), "period": time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC),
			"posted_at": time.Date(2026, 10, 2, 8, 0, 1, 0, time.UTC), "rate": "12.5", "cap_applied": uint8(1), "min_applied": uint8(0),
			"base_minor": int64(100050), "weight_bp": uint16(10000), "corrects": "", "kafka_offset": int64(7),
		}},
		// Issue #13 (tamper evidence): the chain fields reach their columns,
		// so verify can recompute every hash from ClickHouse.
		{"journal entry with its chain", schemas.TopicCommissions, strings.Replace(entry, `"cap_applied":true`,
			`"cap_applied":true,"chain":3,"chain_seq":42,"prev_hash":"ab","hash":"cd"`, 1), "commission_entries", 1, map[string]any{
			"chain": int32(3), "chain_seq": int64(42), "prev_hash": "ab", "hash": "cd",
		}},
		// Issue #13 (lifecycle): hold_until and decision are fields of the
		// hashed entry, so they reach columns verify reads back.
		{"journal entry with its hold and decision", schemas.TopicCommissions, strings.Replace(entry, `"cap_applied":true`,
			`"cap_applied":true,"hold_until":"2026-11-02","decision":"decline"`, 1), "commission_entries", 1, map[string]any{
			"hold_until": "2026-11-02", "decision": "decline",
		}},
		// Issue #18: the licence check and the FX snapshot are fields of the
		// hashed entry, so they reach columns verify reads back.
		{"journal entry with its licence check and fx snapshot", schemas.TopicCommissions, strings.Replace(entry, `"cap_applied":true`,
			`"cap_applied":true,"licence_check":"unlicensed:US-CA:life","payout_currency":"EUR","payout_amount_minor":11506,`+
				`"fx_rate":"0.92","fx_source":"ecb","fx_as_of":"2026-10-01T00:00:00Z"`, 1), "commission_entries", 1, map[string]any{
			"licence_check": "unlicensed:US-CA:life", "payout_currency": "EUR", "payout_amount_minor": int64(11506),
			"fx_rate": "0.92", "fx_source": "ecb", "fx_as_of": "2026-10-01T00:00:00Z",
		}},
		// Issue #18 (data-driven payouts): the trained model's version
		// reaches a column on every row of the attribution and on the
		// hashed journal entry, which verify reads back.
		{"attribution paid by a trained model", schemas.TopicAttributions, strings.Replace(strings.ReplaceAll(attribution, `"last_touch"`, `"markov"`),
			`"paid_model":"markov",`, `"paid_model":"markov","model_version":"2026-11-30.1",`, 1), "attributions", 2, map[string]any{
			"model": "markov", "paid": uint8(1), "model_version": "2026-11-30.1",
		}},
		{"journal entry with its model version", schemas.TopicCommissions, strings.Replace(entry, `"cap_applied":true`,
			`"cap_applied":true,"model_version":"2026-11-30.1"`, 1), "commission_entries", 1, map[string]any{"model_version": "2026-11-30.1"}},
		{"journal entry with a bad period", schemas.TopicCommissions, strings.Replace(entry, `"2026-10"`, `"2026-10-01"`, 1), "rejected_events", 1, nil},
		{"journal entry under another id", schemas.TopicCommissions, strings.Replace(entry, `"entry_id":"j1"`, `"entry_id":"j9"`, 1), "rejected_events", 1, nil},
		{"wrong type on commissions", schemas.TopicCommissions, strings.Replace(entry, "commission.entry", "policy.issued", 1), "rejected_events", 1, nil},
		{"adjustment request makes no row", schemas.TopicAttributions, adjustmentRequest, "", 0, nil},
		{"decision request makes no row", schemas.TopicAttributions, strings.Replace(adjustmentRequest, "commission.adjustment_requested",
			"commission.decision_requested", 1), "", 0, nil},
		// Issue #13 (period close): the close request the commission stage
		// acts on is recorded per partition, not dead-lettered.
		{"period close", schemas.TopicAttributions, periodClose, "commission_period_closes", 1, map[string]any{
			"partner_id": "*", "period": time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), "partitions": int32(4), "actor": "ops",
			"kafka_partition": int32(1), "kafka_offset": int64(7),
		}},
		{"period close with a bad period", schemas.TopicAttributions, strings.Replace(periodClose, `"2026-10"`, `"2026-10-01"`, 1), "rejected_events", 1, nil},
		{"rejection", schemas.TopicRejected, rejection, "rejected_events", 1, map[string]any{
			"stage": "validate", "original": "{}", "record_key": "L1", "source_offset": int64(42),
			"reason_codes": []string{"schema_violation", "x"},
		}},
		{"garbage on commissions", schemas.TopicCommissions, `{"event_id":`, "rejected_events", 1, map[string]any{
			"stage": "sink", "kafka_topic": "p.commissions", "source_offset": int64(7),
			"original": "[withheld: 12 bytes that are not one JSON object, sha256 f6d66444b8fd72574548e3a8b531487be35c2372a1801255d09d87f895d0112a; the original is on the dead-letter topic]",
		}},
		{"wrong type on unique", schemas.TopicUnique, strings.Replace(created, "referral.created", "attribution.calculated", 1), "rejected_events", 1, nil},
		// policy.agent_changed (policy.issued v2's companion) is a lead event
		// like the others: a referral_events row, not a dead letter.
		{"agent change", schemas.TopicUnique, `{"event_id":"e3","event_type":"policy.agent_changed","schema_version":1,"occurred_at":"2026-10-03T08:00:00Z","partner_id":"acme","lead_id":"L1",` +
			`"payload":{"policy_id":"P1","agent_of_record":"a-7","effective_date":"2026-10-03"}}`, "referral_events", 1, map[string]any{"policy_id": "P1"}},
		{"bad premium", schemas.TopicUnique, strings.Replace(issued, "1000.50", "1000.505", 1), "rejected_events", 1, nil},
		{"cancellation makes no attribution row", schemas.TopicAttributions,
			`{"event_id":"x","event_type":"attribution.cancelled","schema_version":1,"occurred_at":"2026-10-02T08:00:00Z","partner_id":"acme","lead_id":"L1","payload":{}}`, "", 0, nil},
		{"wrong type on attributions", schemas.TopicAttributions, strings.Replace(attribution, "attribution.calculated", "policy.issued", 1), "rejected_events", 1, nil},
		{"rejection without reasons", schemas.TopicRejected, `{"stage":"x","reasons":[]}`, "rejected_events", 1, map[string]any{"stage": "sink"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rows, _ := Decode(tt.topic, msg(tt.topic, 7, tt.in))
			if len(rows) != tt.rows {
				t.Fatalf("%d rows, want %d", len(rows), tt.rows)
			}
			for _, r := range rows {
				if r.Table.Name != tt.table || len(r.Values) != len(r.Table.Columns) {
					t.Fatalf("row for %s with %d values for %d columns", r.Table.Name, len(r.Values), len(r.Table.Columns))
				}
			}
			for col, want := range tt.checks {
				got := column(t, rows[0], col)
				if g, w := jsonOf(got), jsonOf(want); g != w {
					t.Errorf("%s = %s, want %s", col, g, w)
				}
			}
		})
	}
	rows, _ := Decode(schemas.TopicUnique, msg(schemas.TopicUnique, 1, created))
	if p := column(t, rows[0], "payload").(string); strings.Contains(p, "ana@example.com") || strings.Contains(p, "Ana") {
		t.Errorf("PII stored in payload: %s", p)
	}
}

func column(t *testing.T, r Row, name string) any {
	t.Helper()
	for i, c := range r.Table.Columns {
		if c == name {
			return r.Values[i]
		}
	}
	t.Fatalf("no column %s in %s", name, r.Table.Name)
	return nil
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{created, issued, attribution, line, entry, adjustmentRequest, periodClose, rejection, `{}`, `null`, "\xff"} {
		f.Add(s)
	}
	topics := []string{schemas.TopicUnique, schemas.TopicAttributions, schemas.TopicCommissions, schemas.TopicRejected}
	f.Fuzz(func(t *testing.T, v string) {
		for _, topic := range topics {
			rows, _ := Decode(topic, msg(topic, 1, v))
			if len(rows) == 0 && topic != schemas.TopicAttributions {
				t.Fatalf("%s: no row for %q", topic, v)
			}
			for _, r := range rows {
				if len(r.Values) != len(r.Table.Columns) {
					t.Fatalf("%s: %d values for %d columns", r.Table.Name, len(r.Values), len(r.Table.Columns))
				}
			}
		}
	})
}

// chDatabase migrates a fresh database on the real ClickHouse.
func chDatabase(t *testing.T) driver.Conn {
	t.Helper()
	opts, err := clickhouse.ParseDSN(testenv.ClickHouseDSN())
	if err != nil {
		t.Fatal(err)
	}
	probe, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if probe.Ping(context.Background()) != nil {
		testenv.Stack(t, "up-clickhouse")
	}
	_ = probe.Close()
	opts.Auth.Database = "sink_test_" + testenv.RandomID()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for range 2 { // migrating twice must be a no-op the second time
		if err := Migrate(context.Background(), opts, log); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+opts.Auth.Database)
		_ = conn.Close()
	})
	return conn
}

func count(t *testing.T, conn driver.Conn, q string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestStoreClickHouse(t *testing.T) {
	t.Parallel()
	conn := chDatabase(t)
	ctx := context.Background()
	ms, _ := schemas.Migrations()
	if n := count(t, conn, "SELECT count() FROM schema_migrations"); n != uint64(len(ms)) {
		t.Errorf("schema_migrations has %d rows after migrating twice, want %d", n, len(ms))
	}
	s := &Store{Conn: conn, TopicPrefix: "p.", Metrics: NewMetrics(prometheus.NewRegistry()), Now: time.Now}
	writes := []struct {
		topic string
		msgs  []worker.Message
	}{
		{schemas.TopicUnique, []worker.Message{msg(schemas.TopicUnique, 10, created), msg(schemas.TopicUnique, 11, issued)}},
		{schemas.TopicAttributions, []worker.Message{msg(schemas.TopicAttributions, 5, attribution), msg(schemas.TopicAttributions, 6, periodClose)}},
		{schemas.TopicCommissions, []worker.Message{msg(schemas.TopicCommissions, 3, line), msg(schemas.TopicCommissions, 4, "garbage"),
			msg(schemas.TopicCommissions, 5, entry)}},
		{schemas.TopicRejected, []worker.Message{msg(schemas.TopicRejected, 0, rejection)}},
	}
	// Round 0 writes one partition at a time; round 1 replays all of it in
	// one Write, as after a crash before the commit, with a second partition
	// of referral events beside it.
	var all []worker.Part
	for _, w := range writes {
		part := worker.Part{Topic: "p." + w.topic, Partition: 1, Msgs: w.msgs}
		if err := s.Write(ctx, []worker.Part{part}); err != nil {
			t.Fatalf("write %s: %v", w.topic, err)
		}
		all = append(all, part)
	}
	all = append(all, worker.Part{Topic: "p." + schemas.TopicUnique, Partition: 2,
		Msgs: []worker.Message{onPartition(2, msg(schemas.TopicUnique, 40, strings.Replace(created, `"event_id":"`, `"event_id":"0`, 1)))}})
	if err := s.Write(ctx, all); err != nil {
		t.Fatalf("replay: %v", err)
	}
	want := map[string]uint64{
		"SELECT count() FROM referral_events FINAL":                                  3,
		"SELECT count() FROM attributions FINAL":                                     2,
		"SELECT count() FROM commission_lines FINAL":                                 1,
		"SELECT count() FROM rejected_events FINAL":                                  2,
		"SELECT toUInt64(sum(amount_minor)) FROM commission_lines FINAL":             12506,
		"SELECT count() FROM commission_entries FINAL":                               1,
		"SELECT toUInt64(sum(amount_minor)) FROM commission_entries FINAL":           12506,
		"SELECT count() FROM rejected_events FINAL WHERE stage = 'sink'":             1,
		"SELECT count() FROM referral_events FINAL WHERE position(payload, '@') > 0": 0,
		"SELECT count() FROM commission_period_closes FINAL WHERE partitions = 4":    1,
	}
	for q, n := range want {
		if got := count(t, conn, q); got != n {
			t.Errorf("%s = %d, want %d", q, got, n)
		}
	}
	next := map[string]int64{schemas.TopicUnique: 12, schemas.TopicAttributions: 7, schemas.TopicCommissions: 6, schemas.TopicRejected: 1}
	checkNext := func(how string) {
		t.Helper()
		for topic, n := range next {
			if got, err := s.NextOffset(ctx, "p."+topic, 1); err != nil || got != n {
				t.Errorf("%s: NextOffset(%s, 1) = %d, %v; want %d", how, topic, got, err, n)
			}
			if got, err := s.NextOffset(ctx, "p."+topic, 0); err != nil || got != -1 {
				t.Errorf("%s: NextOffset(%s, 0) = %d, %v; want -1", how, topic, got, err)
			}
		}
		if got, err := s.NextOffset(ctx, "p."+schemas.TopicUnique, 2); err != nil || got != 41 {
			t.Errorf("%s: NextOffset(unique, 2) = %d, %v; want 41", how, got, err)
		}
	}
	checkNext("from sink_offsets")
	// What sink_offsets holds is what NextOffset answers: partition 7 has
	// no rows to scan.
	if err := s.writeOffsets(ctx, []worker.Part{{Topic: "p." + schemas.TopicUnique, Partition: 7, Msgs: []worker.Message{{Offset: 98}}}}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.NextOffset(ctx, "p."+schemas.TopicUnique, 7); err != nil || got != 99 {
		t.Errorf("NextOffset(unique, 7) = %d, %v; want 99 as recorded in sink_offsets", got, err)
	}
	// Partitions written before sink_offsets existed resume from the rows.
	if err := conn.Exec(ctx, "TRUNCATE TABLE sink_offsets"); err != nil {
		t.Fatal(err)
	}
	checkNext("from the rows")
	unknown := []worker.Part{{Topic: "p." + schemas.TopicUnique, Partition: 3, Msgs: writes[0].msgs}, {Topic: "p.unknown", Partition: 1, Msgs: writes[0].msgs}}
	if err := s.Write(ctx, unknown); err == nil {
		t.Error("write to an unknown topic succeeded")
	}
	if got, err := s.NextOffset(ctx, "p."+schemas.TopicUnique, 3); err != nil || got != -1 {
		t.Errorf("a refused Write stored rows of its good parts: NextOffset(unique, 3) = %d, %v", got, err)
	}
}

// TestViews checks the analysts' views on the real ClickHouse: superseded
// attribution versions do not count.
func TestViews(t *testing.T) {
	t.Parallel()
	conn := chDatabase(t)
	ctx := context.Background()
	s := &Store{Conn: conn, TopicPrefix: "p.", Metrics: NewMetrics(prometheus.NewRegistry()), Now: time.Now}
	v2 := strings.NewReplacer(`"paid_model"`, `"version":2,"paid_model"`, `"last_touch":0}`, `"last_touch":5000}`, `"last_touch":10000}`, `"last_touch":5000}`).Replace(attribution)
	for i, v := range []string{attribution, v2} {
		if err := s.Write(ctx, []worker.Part{{Topic: "p." + schemas.TopicAttributions, Partition: 1, Msgs: []worker.Message{msg(schemas.TopicAttributions, int64(i), v)}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Write(ctx, []worker.Part{{Topic: "p." + schemas.TopicCommissions, Partition: 1, Msgs: []worker.Message{msg(schemas.TopicCommissions, 0, line)}}}); err != nil {
		t.Fatal(err)
	}
	var credited float64
	if err := conn.QueryRow(ctx, "SELECT conversions_credited FROM attribution_credit_monthly WHERE referrer_id = 'b-1' AND model = 'last_touch'").Scan(&credited); err != nil {
		t.Fatal(err)
	}
	if credited != 0.5 {
		t.Errorf("b-1 credited %v conversions, want 0.5 from version 2", credited)
	}
	if n := count(t, conn, "SELECT toUInt64(amount_minor) FROM commission_owed_monthly WHERE payee_id = 'a-1'"); n != 12506 {
		t.Errorf("a-1 owed %d, want 12506", n)
	}
}

// TestJournalViews: balances are sums of entries, per period and in all,
// with a replayed entry counted once and no FINAL in the analyst's query.
func TestJournalViews(t *testing.T) {
	t.Parallel()
	conn := chDatabase(t)
	ctx := context.Background()
	s := &Store{Conn: conn, TopicPrefix: "p.", Metrics: NewMetrics(prometheus.NewRegistry()), Now: time.Now}
	clawback := strings.NewReplacer(`"j1"`, `"j2"`, `"accrual"`, `"clawback"`, `12506`, `-5000`, `"2026-10"`, `"2026-11"`,
		`"cause_id"`, `"corrects":"j1","cause_id"`).Replace(entry)
	for i, v := range []string{entry, clawback, entry} { // the last one a replay
		if err := s.Write(ctx, []worker.Part{{Topic: "p." + schemas.TopicCommissions, Partition: 1, Msgs: []worker.Message{msg(schemas.TopicCommissions, int64(i), v)}}}); err != nil {
			t.Fatal(err)
		}
	}
	var balance int64
	var entries uint64
	if err := conn.QueryRow(ctx, "SELECT balance_minor, entries FROM commission_balances WHERE payee_type = 'agent' AND payee_id = 'a-1' AND currency = 'EUR'").Scan(&balance, &entries); err != nil {
		t.Fatal(err)
	}
	if balance != 7506 || entries != 2 {
		t.Errorf("balance %d over %d entries, want 7506 over 2", balance, entries)
	}
	rows, err := conn.Query(ctx, "SELECT toString(period), net_minor, accrued_minor, clawed_back_minor FROM commission_balances_by_period WHERE payee_id = 'a-1' ORDER BY period")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var period string
		var net, accrued, clawed int64
		if err := rows.Scan(&period, &net, &accrued, &clawed); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %d %d %d", period, net, accrued, clawed))
	}
	if want := "2026-10-01 12506 12506 0|2026-11-01 -5000 0 -5000"; strings.Join(got, "|") != want {
		t.Errorf("by period %q, want %q", strings.Join(got, "|"), want)
	}
}

func BenchmarkDecode(b *testing.B) {
	cases := map[string]string{schemas.TopicUnique: created, schemas.TopicAttributions: attribution, schemas.TopicCommissions: line}
	for topic, v := range cases {
		m := msg(topic, 1, v)
		b.Run(topic, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Decode(topic, m)
			}
		})
	}
}
