package commission

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/internal/workertest"
	"github.com/reftrack/reftrack/schemas"
)

func rules(t testing.TB) *RuleSet {
	t.Helper()
	rs, err := LoadRules("testdata/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestParsePercent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"10", 100_000, true}, {"12.5", 125_000, true}, {"8.125", 81_250, true},
		{"0.0001", 1, true}, {"100", 1_000_000, true}, {"0", 0, true},
		{"100.0001", 0, false}, {"1.00001", 0, false}, {"-1", 0, false}, {"", 0, false}, {"1e2", 0, false}, {"1000", 0, false},
	}
	for _, tt := range tests {
		got, err := parsePercent(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parsePercent(%q) = %d, %v; want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestPercentOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v, rate, want int64
	}{
		{120050, 100_000, 12005},   // 1200.50 × 10 % = 120.05
		{100001, 125_000, 12500},   // 12500.125 → 12500
		{100004, 125_000, 12501},   // 12500.5 → half away from zero
		{-100004, 125_000, -12501}, // and so for clawbacks
		{1, 81_250, 0},             // 0.08125 → 0
		{math.MaxInt64, 1_000_000, math.MaxInt64},
	}
	for _, tt := range tests {
		if got := PercentOf(tt.v, tt.rate); got != tt.want {
			t.Errorf("PercentOf(%d, %d) = %d, want %d", tt.v, tt.rate, got, tt.want)
		}
	}
}

func TestParseRulesErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{`{"version":"v","rules":[{"id":"a","when":"true","amount":{"percent":"1"},"rate":5}]}`, "schema"},
		{`{"version":"v","rules":[{"id":"a","when":"true","amount":{"percent":"1","flat":{"USD":"1"}}}]}`, "schema"},
		{`{"version":"v","rules":[{"id":"a","when":"true","amount":{"percent":"ten"}}]}`, "schema"},
		{`{"version":"v","rules":[{"id":"a","when":"true","amount":{"percent":"1"}},{"id":"a","when":"true","amount":{"percent":"1"}}]}`, `rule "a": id repeated`},
		{`{"version":"v","rules":[{"id":"b","when":"nonsense ==","amount":{"percent":"1"}}]}`, `rule "b": when`},
		{`{"version":"v","rules":[{"id":"c","when":"premium_minor","amount":{"percent":"1"}}]}`, `rule "c": when`},
		{`{"version":"v","rules":[{"id":"d","when":"true","amount":{"percent":"101"}}]}`, `rule "d": percent "101"`},
		{`{"schema_version":2,"version":"v","rules":[{"id":"e","when":"true","amount":{"bands":[{"percent":"1"},{"percent":"2"}]}}]}`, "only the last band"},
		{`{"version":"v","payees":{"agent:x":{"upline":"agent:x"}},"rules":[{"id":"f","when":"true","amount":{"percent":"1"}}]}`, "upline cycle agent:x → agent:x"},
		{`{"schema_version":2,"version":"v","rules":[{"id":"g","when":"true","amount":{"percent":"1"}}],"hold_days":{"life":-1}}`, "schema"},
		{`{"schema_version":2,"version":"v","rules":[{"id":"h","when":"true","amount":{"percent":"1"}}],"holds":[{"id":"x","when":"premium_minor","reason":"manual"}]}`, `hold "x": when`},
		{`{"schema_version":2,"version":"v","rules":[{"id":"h","when":"true","amount":{"percent":"1"}}],"holds":[{"id":"x","when":"true","reason":"manual"},{"id":"x","when":"true","reason":"manual"}]}`, `hold "x": id repeated`},
		{`{"schema_version":2,"version":"v","rules":[{"id":"h","when":"true","amount":{"percent":"1"}}],"holds":[{"id":"x","when":"true","reason":"Fraud!"}]}`, "schema"},
	}
	for _, tt := range tests {
		if _, err := ParseRules([]byte(tt.in)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseRules(%s) error = %v, want one mentioning %q", tt.in, err, tt.want)
		}
	}
}

// TestSplitProperties: shares sum to the total, none is off its exact share
// by a unit or more, and the order of shares does not matter.
func TestSplitProperties(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		n := 1 + r.IntN(8)
		shares := make([]Share, n)
		left := 10_000
		for i := range shares {
			w := left
			if i < n-1 {
				w = r.IntN(left + 1)
			}
			left -= w
			shares[i] = Share{Payee: string(rune('a' + i)), WeightBP: w}
		}
		total := r.Int64N(1e12) - 1e11
		got := Split(total, shares)
		var sum int64
		for i, v := range got {
			sum += v
			exact := float64(total) * float64(shares[i].WeightBP) / 10_000
			if math.Abs(float64(v)-exact) >= 1.0001 {
				t.Fatalf("Split(%d, %v)[%d] = %d, exact %f", total, shares, i, v, exact)
			}
		}
		if sum != total {
			t.Fatalf("Split(%d, %v) sums to %d", total, shares, sum)
		}
		perm := r.Perm(n)
		shuffled := make([]Share, n)
		for i, p := range perm {
			shuffled[i] = shares[p]
		}
		again := Split(total, shuffled)
		for i, p := range perm {
			if again[i] != got[p] {
				t.Fatalf("order changed the split: %v vs %v", got, again)
			}
		}
	}
}

func TestSplit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		total  int64
		shares []Share
		want   []int64
	}{
		{100, []Share{{"a", 10000}}, []int64{100}},
		{100, []Share{{"a", 3334}, {"b", 3333}, {"c", 3333}}, []int64{34, 33, 33}},
		// 10 × 1/3 each: remainders tie, so the residue goes to a, then b.
		{10, []Share{{"c", 3333}, {"a", 3333}, {"b", 3334}}, []int64{3, 3, 4}},
		{1, []Share{{"b", 5000}, {"a", 5000}}, []int64{0, 1}},
		{-1, []Share{{"b", 5000}, {"a", 5000}}, []int64{0, -1}},
		{0, []Share{{"a", 5000}, {"b", 5000}}, []int64{0, 0}},
		{math.MaxInt64, []Share{{"a", 9999}, {"b", 1}}, []int64{9222449699651090329, 922337203685478}},
	}
	for _, tt := range tests {
		got := Split(tt.total, tt.shares)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("Split(%d, %v) = %v, want %v", tt.total, tt.shares, got, tt.want)
		}
	}
}

type tp struct {
	id, typ string
	w       int
}

func attEnvelope(line, sale, premium, currency string, version int64, tps ...tp) (schemas.Envelope, schemas.AttributionCalculated) {
	att := schemas.AttributionCalculated{Version: version, PolicyEventID: "pe-1", PaidModel: "linear",
		Policy: schemas.PolicyIssued{PolicyID: "P-1", ProductLine: line, AnnualPremium: premium, Currency: currency,
			TermMonths: 12, EffectiveDate: "2026-01-01", SaleType: sale}}
	for _, t := range tps {
		att.Touchpoints = append(att.Touchpoints, schemas.Touchpoint{Touch: schemas.Touch{EventID: "e-" + t.id, ReferrerID: t.id, ReferrerType: t.typ},
			Weights: map[string]int{"linear": t.w, "last_touch": 0}})
	}
	payload, _ := json.Marshal(att)
	recv := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return schemas.Envelope{EventID: "att-1", EventType: schemas.TypeAttributionCalculated, SchemaVersion: 1,
		OccurredAt: recv, ReceivedAt: &recv, PartnerID: "acme", LeadID: "L-1", Payload: payload}, att
}

// describe renders lines as "payee=amount/rule" sorted, for comparison.
func describe(t *testing.T, lines []schemas.Envelope) string {
	t.Helper()
	var parts []string
	for _, e := range lines {
		var l schemas.JournalEntry
		if err := json.Unmarshal(e.Payload, &l); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, fmt.Sprintf("%s:%s=%d/%s", l.PayeeType, l.PayeeID, l.AmountMinor, l.RuleID))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// TestLinesGolden: every rule kind, hand-computed.
func TestLinesGolden(t *testing.T) {
	t.Parallel()
	rs := rules(t)
	tests := []struct {
		name, line, sale, premium, currency string
		tps                                 []tp
		want                                string
	}{
		// 10 % of 1000.00 plus the gold uplift of 20 % of it; overrides 10 %
		// and 5 % of the accrual up the chain agent → agency → MGA.
		{"tier and overrides", "auto", "new_business", "1000.00", "USD", []tp{{"A-1", "agent", 10000}},
			"agency:AG-1=1200/override:1 agent:A-1=12000/auto+gold-uplift mga:M-1=600/override:2"},
		// Region from the payee table: 10 % of 1000.00 plus a 5 % uplift.
		{"region", "auto", "renewal", "1000.00", "USD", []tp{{"B-N", "broker", 10000}}, "broker:B-N=10500/auto+north-brokers"},
		{"plain rate", "auto", "renewal", "1000.00", "USD", []tp{{"A-2", "agent", 10000}}, "agent:A-2=10000/auto"},
		{"flat per currency", "auto", "new_business", "99999.00", "EUR", []tp{{"C-1", "customer", 10000}}, "customer:C-1=2000/customer-reward"},
		// 30 % of 100.00 = 30.00, raised to the 50.00 minimum.
		{"minimum", "life", "new_business", "100.00", "USD", []tp{{"A-2", "agent", 10000}}, "agent:A-2=5000/life-first-year"},
		// 30 % of 10 000.00 = 3000.00, capped at 1500.00.
		{"cap", "life", "new_business", "10000.00", "USD", []tp{{"A-2", "agent", 10000}}, "agent:A-2=150000/life-first-year"},
		{"renewal rate", "life", "renewal", "1000.00", "USD", []tp{{"A-2", "agent", 10000}}, "agent:A-2=3000/life-renewal"},
		// 15 % of the first 1000 + 10 % of the next 4000 + 5 % of the last
		// 1000 = 150 + 400 + 50 = 600.00.
		{"bands", "home", "new_business", "6000.00", "USD", []tp{{"A-2", "agent", 10000}}, "agent:A-2=60000/home-bands"},
		{"bands, first only", "home", "new_business", "800.00", "USD", []tp{{"A-2", "agent", 10000}}, "agent:A-2=12000/home-bands"},
		// 6 % of 1234.56 = 74.0736 → 74.07.
		{"default", "health", "new_business", "1234.56", "USD", []tp{{"A-2", "agent", 10000}}, "agent:A-2=7407/default"},
		// 10 % of 1000.01 = 100.001 → 100.00, split 50.00/50.00; A-1's gold
		// uplift makes 60.00 with overrides 6.00 and 3.00; B-1 has no credit.
		{"split", "auto", "new_business", "1000.01", "USD", []tp{{"A-1", "agent", 5000}, {"A-2", "agent", 5000}, {"B-1", "broker", 0}},
			"agency:AG-1=600/override:1 agent:A-1=6000/auto+gold-uplift agent:A-2=5000/auto broker:B-1=0/no_credit mga:M-1=300/override:2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, att := attEnvelope(tt.line, tt.sale, tt.premium, tt.currency, 1, tt.tps...)
			lines, err := Lines(rs, env, att)
			if err != nil {
				t.Fatal(err)
			}
			if got := describe(t, lines); got != tt.want {
				t.Errorf("lines\n got %s\nwant %s", got, tt.want)
			}
			again, _ := Lines(rs, env, att)
			for i := range lines {
				if lines[i].EventID != again[i].EventID {
					t.Errorf("line ids differ on replay")
				}
			}
		})
	}
	for name, a := range map[string][]any{
		"no reward in JPY": {"auto", "new_business", "1000", "JPY", []tp{{"C-1", "customer", 10000}}, CodeNoRule},
		"weights":          {"auto", "new_business", "10.00", "USD", []tp{{"A-2", "agent", 9999}}, CodeBadWeights},
		"premium digits":   {"auto", "new_business", "10.5", "JPY", []tp{{"A-2", "agent", 10000}}, CodeBadPremium},
	} {
		env, att := attEnvelope(a[0].(string), a[1].(string), a[2].(string), a[3].(string), 1, a[4].([]tp)...)
		_, err := Lines(rs, env, att)
		var rej *worker.RejectError
		if !errorsAs(err, &rej) || rej.Reasons[0].Code != a[5] {
			t.Errorf("%s: error %v, want %s", name, err, a[5])
		}
	}
	noRule, _ := ParseRules([]byte(`{"version":"v","rules":[{"id":"a","when":"product_line == \"auto\"","amount":{"percent":"1"}}]}`))
	env, att := attEnvelope("home", "renewal", "10.00", "USD", 1, tp{"A", "agent", 10000})
	if _, err := Lines(noRule, env, att); !worker.IsPermanent(err) || !strings.Contains(err.Error(), CodeNoRule) {
		t.Errorf("no matching rule: %v", err)
	}
}

// TestSettle: pro rata to the unearned days, inside the paying rule set's
// window, less what is already clawed back; a shortfall is reinstated.
func TestSettle(t *testing.T) {
	t.Parallel()
	rs := rules(t)
	env, att := attEnvelope("life", "new_business", "10000.00", "USD", 1, tp{"A-1", "agent", 10000})
	accrued, err := accruals(rs, env, att)
	if err != nil {
		t.Fatal(err)
	}
	p := policyState{Accrued: true, Version: 1, RuleSetVersion: rs.Version, ChargebackDays: rs.ChargebackWindow("life"), Policy: att.Policy}
	for _, e := range accrued {
		p.Standing = append(p.Standing, standing{Entry: e})
	}
	cancelEnv := schemas.Envelope{EventID: "cancel-1", LeadID: "L-1", OccurredAt: time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC)}
	tests := []struct {
		name, on string
		clawed   int64 // already clawed back of each accrual
		window   int
		want     string
	}{
		// Term 2026-01-01 .. 2027-01-01 (365 days); cancelled 2026-10-01
		// leaves 92 days unearned: 1500.00 × 92/365 = 378.082 → 378.08, and
		// the overrides 150.00 and 75.00 likewise: 37.808 → 37.81, 18.904 → 18.90.
		{"pro rata", "2026-10-01", 0, 730, "agency:AG-1=-3781/clawback agent:A-1=-37808/clawback mga:M-1=-1890/clawback"},
		{"before the term: all of it", "2025-12-01", 0, 730, "agency:AG-1=-15000/clawback agent:A-1=-150000/clawback mga:M-1=-7500/clawback"},
		{"nothing unearned", "2027-01-01", 0, 730, ""},
		{"less what was clawed back", "2026-10-01", 1000, 730, "agency:AG-1=-2781/clawback agent:A-1=-36808/clawback mga:M-1=-890/clawback"},
		{"more was clawed back: reinstated", "2026-10-01", 5000, 730, "agency:AG-1=1219/reinstatement agent:A-1=-32808/clawback mga:M-1=3110/reinstatement"},
		{"never more than paid", "2025-12-01", 7500, 730, "agency:AG-1=-7500/clawback agent:A-1=-142500/clawback"},
		{"window of the paying rules", "2026-10-01", 0, 30, ""},
		{"outside the window: all reinstated", "2026-10-01", 500, 30, "agency:AG-1=500/reinstatement agent:A-1=500/reinstatement mga:M-1=500/reinstatement"},
		// 2026-01-31 is day 30: 335 days unearned.
		{"last day of the window", "2026-01-31", 0, 30, "agency:AG-1=-13767/clawback agent:A-1=-137671/clawback mga:M-1=-6884/clawback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := p
			in.ChargebackDays, in.Cancel = tt.window, &cancelState{EventID: "cancel-1", On: tt.on}
			in.Standing = slices.Clone(p.Standing)
			for i := range in.Standing {
				in.Standing[i].Clawed = tt.clawed
			}
			got, after, err := settle(in, cancelEnv)
			if err != nil {
				t.Fatal(err)
			}
			var ps []posted
			for _, e := range got {
				ps = append(ps, posted{Kind: e.Kind, PayeeType: e.PayeeType, PayeeID: e.PayeeID, AmountMinor: e.AmountMinor})
				if e.Corrects == "" || e.Period != "2026-10" || e.CancelledOn != tt.on {
					t.Errorf("entry %+v: want corrects, period 2026-10, cancelled_on %s", e, tt.on)
				}
			}
			if d := entries(ps); d != tt.want {
				t.Errorf("cancelled %s:\n got %s\nwant %s", tt.on, d, tt.want)
			}
			for i, s := range after.Standing {
				if s.Clawed > s.Entry.AmountMinor || s.Clawed < 0 {
					t.Errorf("accrual %s: clawed back %d of %d", s.Entry.EntryID, s.Clawed, s.Entry.AmountMinor)
				}
				if in.Standing[i].Clawed != tt.clawed {
					t.Errorf("settle changed its input")
				}
			}
		})
	}
	bad := p
	bad.Cancel = &cancelState{EventID: "c", On: "07/02/2026"}
	if _, _, err := settle(bad, cancelEnv); !worker.IsPermanent(err) {
		t.Errorf("bad date: %v, want a rejection", err)
	}
}

// stage runs the Calculator the way the runtime does: each batch through a
// real worker.State (kfake changelog, real Redis) in a Kafka transaction.
type stage struct {
	t *testing.T
	c *Calculator
	h *workertest.State
}

func newStage(t *testing.T, rs *RuleSet) *stage {
	t.Helper()
	rdb, prefix := testenv.Redis(t)
	c := &Calculator{Redis: rdb, Prefix: prefix, Keep: time.Hour, Metrics: NewMetrics(prometheus.NewRegistry())}
	c.Use(rs)
	return &stage{t: t, c: c, h: workertest.NewState(t, "commission", rdb, prefix)}
}

// batch commits one batch and returns its results.
func (s *stage) batch(msgs ...worker.Message) []worker.Result {
	s.t.Helper()
	res, err := s.h.Batch(context.Background(), s.c, msgs)
	if err != nil {
		s.t.Fatal(err)
	}
	return res
}

// aborted runs one batch whose transaction aborts.
func (s *stage) aborted(msgs ...worker.Message) {
	s.t.Helper()
	if _, err := s.h.Aborted(context.Background(), s.c, msgs); err != nil {
		s.t.Fatal(err)
	}
}

func (s *stage) loseRedis() { s.h.LoseRedis(context.Background()) }
func (s *stage) restart()   { s.h.Restart() }

// leadPartition is the input partition of lead L-1's records in these tests.
const leadPartition = 1

// attMsg is attribution att-1 of lead acme/L-1, as consumed.
func attMsg(line, sale, premium string, version int64, tps ...tp) worker.Message {
	env, _ := attEnvelope(line, sale, premium, "USD", version, tps...)
	b, _ := json.Marshal(env)
	return worker.Message{Partition: leadPartition, Key: schemas.LeadKey("acme", "L-1"), Value: b}
}

// cancelMsg is cancellation id of attribution att on date on.
func cancelMsg(id, att, on string) worker.Message {
	payload, _ := json.Marshal(schemas.AttributionCancelled{AttributionID: att, CancelledOn: on, CancelEventID: id})
	b, _ := json.Marshal(schemas.Envelope{EventID: id, EventType: schemas.TypeAttributionCancelled, SchemaVersion: 1,
		PartnerID: "acme", LeadID: "L-1", Payload: payload})
	return worker.Message{Partition: leadPartition, Key: schemas.LeadKey("acme", "L-1"), Value: b}
}

// outEntries are the journal entries of committed results.
func outEntries(t *testing.T, res []worker.Result) []posted {
	t.Helper()
	var out []posted
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("unexpected reject: %v", r.Err)
		}
		out = append(out, decodeOut(t, r)...)
	}
	return out
}

// lifePolicy is life first year, 10 000.00 USD, 2026-01-01 for 12 months
// (365 days), all credit to gold agent A-1: 30 % capped at 1500.00, and the
// overrides 150.00 (agency AG-1) and 75.00 (MGA M-1).
var lifePolicy = []tp{{"A-1", "agent", 10000}}

// TestProcessState runs the stage through worker.State: lines for an
// attribution and clawbacks for its cancellation in one batch, an unknown
// cancellation counted, a broken record dead-lettered, every record keyed by
// the tenant-scoped lead.
func TestProcessState(t *testing.T) {
	t.Parallel()
	s := newStage(t, rules(t))
	res := s.batch(attMsg("life", "new_business", "10000.00", 1, tp{"A-2", "agent", 10000}),
		cancelMsg("cancel-1", "att-1", "2026-07-02"), cancelMsg("cancel-2", "never-paid", "2026-07-02"),
		worker.Message{Partition: leadPartition, Value: []byte("[]")})
	if len(res[0].Out) != 1 || len(res[1].Out) != 1 || len(res[2].Out) != 0 || !worker.IsPermanent(res[3].Err) {
		t.Fatalf("results %+v", res)
	}
	// Lines and clawbacks go on keyed by the tenant-scoped lead (issue #11):
	// another partner's lead L-1 is another lead.
	for i, r := range res[:2] {
		if got := string(r.Out[0].Key); got != "acme|L-1" {
			t.Errorf("record %d: key %q, want acme|L-1", i, got)
		}
	}
	claw := outEntries(t, res[1:2])
	// 1500.00 capped; cancelled 2026-07-02 leaves 183 of 365 days: 752.05.
	for _, l := range claw {
		if l.AmountMinor != -75205 || l.Kind != schemas.EntryClawback || l.Corrects == "" {
			t.Errorf("clawback entry %+v", l)
		}
	}
	if n := testutil.ToFloat64(s.c.Metrics.clawbackUnknown); n != 1 {
		t.Errorf("cancellations_without_paid_lines_total = %v", n)
	}
	if _, err := s.c.ProcessBatch(context.Background(), nil); err == nil {
		t.Error("ProcessBatch of a stateful stage: want an error saying the runtime calls ProcessState")
	}
}

// TestAbortedAttributionLeavesNothing: an attribution whose transaction
// aborted accrued nothing, so a cancellation after it claws nothing back
// (and is kept); the redo posts the very ids of the aborted attempt, and
// the clawbacks of the cancellation kept.
func TestAbortedAttributionLeavesNothing(t *testing.T) {
	t.Parallel()
	s := newStage(t, rules(t))
	res, err := s.h.Aborted(context.Background(), s.c, []worker.Message{attMsg("life", "new_business", "10000.00", 1, lifePolicy...)})
	if err != nil {
		t.Fatal(err)
	}
	aborted := outEntries(t, res)
	if got := entries(outEntries(t, s.batch(cancelMsg("cancel-0", "att-1", "2026-07-02")))); got != "" {
		t.Errorf("cancellation after an aborted attribution clawed back %s", got)
	}
	redo := outEntries(t, s.batch(attMsg("life", "new_business", "10000.00", 1, lifePolicy...)))
	want := "agency:AG-1=-7521/clawback agency:AG-1=15000/accrual agent:A-1=-75205/clawback agent:A-1=150000/accrual " +
		"mga:M-1=-3760/clawback mga:M-1=7500/accrual"
	if got := entries(redo); got != want {
		t.Errorf("redo\n got %s\nwant %s", got, want)
	}
	for i, e := range aborted {
		if e.ID != redo[i].ID {
			t.Errorf("entry %d: aborted attempt posted %s, the redo %s", i, e.ID, redo[i].ID)
		}
	}
}

// TestCancelledTwiceInOneBatch: the second cancellation reads the first's
// clawbacks from the batch's own writes.
func TestCancelledTwiceInOneBatch(t *testing.T) {
	t.Parallel()
	s := newStage(t, rules(t))
	res := s.batch(attMsg("life", "new_business", "10000.00", 1, lifePolicy...),
		cancelMsg("cancel-1", "att-1", "2026-07-02"), cancelMsg("cancel-2", "att-1", "2026-07-02"))
	if len(res[1].Out) != 3 || len(res[2].Out) != 0 {
		t.Errorf("clawback lines per cancellation: %d then %d, want 3 then 0", len(res[1].Out), len(res[2].Out))
	}
}

// shortWindow pays 10 % of everything and claws back only within 30 days.
const shortWindow = `{"version":"short","rules":[{"id":"all","when":"true","amount":{"percent":"10"}}],"chargeback_days":{"default":30}}`

// TestClawbackWindowOfThePayingRules (issue #13: the window was the rule
// set's in force at cancellation): the window is the one that paid.
func TestClawbackWindowOfThePayingRules(t *testing.T) {
	t.Parallel()
	short, err := ParseRules([]byte(shortWindow))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		paid, cance *RuleSet
		want        string
	}{
		// Life's 730 days paid; the 30 in force at the cancellation do not
		// matter: 183 of 365 days unearned.
		{"long window paid", rules(t), short, "agency:AG-1=-7521/clawback agent:A-1=-75205/clawback mga:M-1=-3760/clawback"},
		// 30 days paid (1000.00): cancelled on day 182, past it.
		{"short window paid", short, rules(t), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStage(t, tt.paid)
			s.batch(attMsg("life", "new_business", "10000.00", 1, lifePolicy...))
			s.c.Use(tt.cance)
			if got := entries(outEntries(t, s.batch(cancelMsg("cancel-1", "att-1", "2026-07-02")))); got != tt.want {
				t.Errorf("clawback\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestClawbackAfterRedisLoss (issues #13, #14: what was paid lived only in
// Redis): the journal state comes back from the changelog, after a restart too.
func TestClawbackAfterRedisLoss(t *testing.T) {
	t.Parallel()
	want := "agency:AG-1=-7521/clawback agent:A-1=-75205/clawback mga:M-1=-3760/clawback"
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprintf("restart=%v", restart), func(t *testing.T) {
			t.Parallel()
			s := newStage(t, rules(t))
			s.batch(attMsg("life", "new_business", "10000.00", 1, lifePolicy...))
			s.loseRedis()
			if restart {
				s.restart()
			}
			if got := entries(outEntries(t, s.batch(cancelMsg("cancel-1", "att-1", "2026-07-02")))); got != want {
				t.Errorf("clawback after losing redis\n got %s\nwant %s", got, want)
			}
			// And what it clawed back survives the next loss too.
			s.loseRedis()
			if got := entries(outEntries(t, s.batch(cancelMsg("cancel-2", "att-1", "2026-07-02")))); got != "" {
				t.Errorf("second cancellation after losing redis again clawed back %s", got)
			}
		})
	}
}

// TestHotReload swaps the rule file under a running watcher: new lines carry
// the new version, and a broken file is refused while the old rules go on.
func TestHotReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.json")
	write := func(version, percent string) {
		b := fmt.Sprintf(`{"version":%q,"rules":[{"id":"all","when":"true","amount":{"percent":%q}}]}`, version, percent)
		if err := os.WriteFile(path+".tmp", []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil { // atomic, as a deploy would
			t.Fatal(err)
		}
	}
	write("v1", "10")
	rs, err := LoadRules(path)
	if err != nil {
		t.Fatal(err)
	}
	c := &Calculator{Metrics: NewMetrics(prometheus.NewRegistry())}
	c.Use(rs)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go c.Watch(ctx, path, 10*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))

	amount := func() (string, int64) {
		env, att := attEnvelope("auto", "new_business", "100.00", "USD", 1, tp{"A", "agent", 10000})
		lines, err := Lines(c.Rules.Load(), env, att)
		if err != nil {
			t.Fatal(err)
		}
		var l schemas.JournalEntry
		_ = json.Unmarshal(lines[0].Payload, &l)
		return l.RuleSetVersion, l.AmountMinor
	}
	waitFor := func(version string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); c.Rules.Load().Version != version; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("rule set %s never loaded", version)
			}
		}
	}
	if v, a := amount(); v != "v1" || a != 1000 {
		t.Fatalf("before: %s %d", v, a)
	}
	write("v2", "20")
	waitFor("v2")
	if v, a := amount(); v != "v2" || a != 2000 {
		t.Errorf("after reload: %s %d", v, a)
	}
	write("v3", "not a percent")
	for deadline := time.Now().Add(5 * time.Second); testutil.ToFloat64(c.Metrics.reloads.WithLabelValues("refused")) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("broken rules never refused")
		}
	}
	if v, a := amount(); v != "v2" || a != 2000 {
		t.Errorf("after a broken file: %s %d, want v2 still in force", v, a)
	}
}

func BenchmarkLines(b *testing.B) {
	rs := rules(b)
	env, att := attEnvelope("auto", "new_business", "1234.56", "USD", 1, tp{"A-1", "agent", 5000}, tp{"A-2", "agent", 5000})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Lines(rs, env, att); err != nil {
			b.Fatal(err)
		}
	}
}
