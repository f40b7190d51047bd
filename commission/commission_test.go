package commission

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

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

func TestCommissionRounding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		percent string
		premium int64
		want    int64
	}{
		{"10", 120050, 12005},     // 1200.50 × 10 % = 120.05
		{"12.5", 100001, 12500},   // 12500.125 → 12500
		{"12.5", 100004, 12501},   // 12500.5 → half away from zero
		{"7.25", 99999, 7250},     // 7249.9275 → 7250
		{"8.125", 1, 0},           // 0.08125 → 0
		{"30", -1000, -300},       // clawback keeps the sign
		{"12.5", -100004, -12501}, // and rounds away from zero
		{"100", math.MaxInt64, math.MaxInt64},
	}
	for _, tt := range tests {
		rs, err := ParseRules([]byte(`{"version":"v","rules":[{"id":"r","percent":"` + tt.percent + `"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		if got := rs.Rules[0].Commission(tt.premium); got != tt.want {
			t.Errorf("%s %% of %d = %d, want %d", tt.percent, tt.premium, got, tt.want)
		}
	}
}

func TestParseRulesErrors(t *testing.T) {
	t.Parallel()
	_, err := ParseRules([]byte(`{"version":"","rules":[{"id":"a","percent":"x"},{"id":"a","percent":"1"}]}`))
	for _, want := range []string{"version is required", `rule "a": percent "x"`, `id "a" missing or repeated`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
	if _, err := ParseRules([]byte(`{"version":"v","rules":[{"id":"a","percent":"1","rate":5}]}`)); err == nil {
		t.Error("unknown field accepted")
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
		for i := range tt.want {
			if got[i] != tt.want[i] {
				t.Errorf("Split(%d, %v) = %v, want %v", tt.total, tt.shares, got, tt.want)
				break
			}
		}
	}
}

// TestSplitProperties: lines sum to the total, no line is off its exact share
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

func attribution(t *testing.T, premium, currency string, tps ...schemas.Touchpoint) worker.Message {
	t.Helper()
	payload, _ := json.Marshal(schemas.AttributionCalculated{
		PolicyEventID: "pe-1", PaidModel: "linear", Version: 7, Touchpoints: tps,
		Policy: schemas.PolicyIssued{PolicyID: "P-1", ProductLine: "home", AnnualPremium: premium, Currency: currency,
			TermMonths: 12, EffectiveDate: "2026-11-02", SaleType: "new_business"},
	})
	v, _ := json.Marshal(schemas.Envelope{EventID: "att-1", EventType: schemas.TypeAttributionCalculated, SchemaVersion: 1,
		OccurredAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), PartnerID: "acme", LeadID: "L-1", Payload: payload})
	return worker.Message{Value: v}
}

func TestProcess(t *testing.T) {
	t.Parallel()
	rs, err := LoadRules("testdata/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	c := &Calculator{}
	c.Rules.Store(rs)
	tp := func(id, typ string, w int) schemas.Touchpoint {
		return schemas.Touchpoint{EventID: "e-" + id, ReferrerID: id, ReferrerType: typ, Weights: map[string]int{"linear": w}}
	}
	// home at 12.5 % of 999.99 = 124.99875 → 125.00. A-1's two touches merge
	// to 3334 bp: 4167.5 → 4167 r.5, B-1 and C-1 4166.25 → 4166 r.25; the
	// one residue cent goes to the largest remainder: 4168 + 4166 + 4166.
	out, err := c.Process(context.Background(), attribution(t, "999.99", "USD",
		tp("A-1", "agent", 1667), tp("B-1", "broker", 3333), tp("A-1", "agent", 1667), tp("C-1", "customer", 3333), tp("Z", "agent", 0)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"A-1": 4168, "B-1": 4166, "C-1": 4166, "Z": 0}
	if len(out) != len(want) {
		t.Fatalf("got %d lines, want %d", len(out), len(want))
	}
	var sum int64
	for _, o := range out {
		var env schemas.Envelope
		var line schemas.CommissionCalculated
		if err := json.Unmarshal(o.Value, &env); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(env.Payload, &line); err != nil {
			t.Fatal(err)
		}
		if line.AmountMinor != want[line.PayeeID] || line.AttributionVersion != 7 || line.RuleID != "home" || line.RuleSetVersion != "2026-11-01.1" || line.PolicyCommission != 12500 {
			t.Errorf("line %+v", line)
		}
		sum += line.AmountMinor
	}
	if sum != 12500 {
		t.Errorf("lines sum to %d, want 12500", sum)
	}
	again, _ := c.Process(context.Background(), attribution(t, "999.99", "USD",
		tp("A-1", "agent", 1667), tp("B-1", "broker", 3333), tp("A-1", "agent", 1667), tp("C-1", "customer", 3333), tp("Z", "agent", 0)))
	for i := range out {
		if string(out[i].Value) != string(again[i].Value) {
			t.Errorf("replay differs:\n%s\n%s", out[i].Value, again[i].Value)
		}
	}

	for name, m := range map[string]worker.Message{
		"bad weights":     attribution(t, "10", "USD", tp("A", "agent", 9999)),
		"too many digits": attribution(t, "10.5", "JPY", tp("A", "agent", 10000)),
		"not an envelope": {Value: []byte("[]")},
	} {
		if _, err := c.Process(context.Background(), m); !worker.IsPermanent(err) {
			t.Errorf("%s: error %v, want a permanent rejection", name, err)
		}
	}
	if out, err := c.Process(context.Background(), attribution(t, "10", "USD")); err != nil || len(out) != 0 {
		t.Errorf("unattributed policy: %v, %v; want no lines", out, err)
	}
}

func BenchmarkProcess(b *testing.B) {
	rs, err := LoadRules("testdata/rules.json")
	if err != nil {
		b.Fatal(err)
	}
	c := &Calculator{}
	c.Rules.Store(rs)
	m := attribution(&testing.T{}, "1234.56", "USD", schemas.Touchpoint{EventID: "e", ReferrerID: "A", ReferrerType: "agent", Weights: map[string]int{"linear": 10000}})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Process(context.Background(), m); err != nil {
			b.Fatal(err)
		}
	}
}
