package commission

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// total is the sum of the accruals of lines, overrides excluded: what the
// policy pays its direct payees.
func total(t *testing.T, lines []schemas.Envelope) int64 {
	t.Helper()
	var sum int64
	for _, e := range lines {
		var l schemas.JournalEntry
		if err := json.Unmarshal(e.Payload, &l); err != nil {
			t.Fatal(err)
		}
		if l.OverrideLevel == 0 {
			sum += l.AmountMinor
		}
	}
	return sum
}

// TestPolicyCommissionOncePerPolicy (issue #13, rules finding 1): the
// policy's commission is computed once — rule, bands, minimum and cap on
// the whole policy — and then split by weight, so the total does not depend
// on how many payees share the credit; payee rules are explicit.
func TestPolicyCommissionOncePerPolicy(t *testing.T) {
	t.Parallel()
	rs := rules(t)
	tests := []struct {
		name, line, sale, premium, currency string
		tps                                 []tp
		want                                string
		total                               int64
	}{
		// 30 % of 10 000.00 = 3 000.00, capped at 1 500.00 for the policy.
		{"cap, one payee", "life", "new_business", "10000.00", "USD", []tp{{"A-2", "agent", 10000}},
			"agent:A-2=150000/life-first-year", 150000},
		{"cap, two payees", "life", "new_business", "10000.00", "USD", []tp{{"A-2", "agent", 5000}, {"A-3", "agent", 5000}},
			"agent:A-2=75000/life-first-year agent:A-3=75000/life-first-year", 150000},
		// 30 % of 100.00 = 30.00, raised to the policy's 50.00 minimum, split 60/40.
		{"minimum, two payees", "life", "new_business", "100.00", "USD", []tp{{"A-2", "agent", 6000}, {"A-3", "agent", 4000}},
			"agent:A-2=3000/life-first-year agent:A-3=2000/life-first-year", 5000},
		// Bands on the whole 6 000.00 premium: 150 + 400 + 50 = 600.00, split
		// 3334/3333/3333 bp: 200.04, 199.98, 199.98.
		{"bands, three payees", "home", "new_business", "6000.00", "USD",
			[]tp{{"A-2", "agent", 3334}, {"A-3", "agent", 3333}, {"A-4", "agent", 3333}},
			"agent:A-2=20004/home-bands agent:A-3=19998/home-bands agent:A-4=19998/home-bands", 60000},
		// Odd cent: 10 % of 1 000.10 = 100.01, split 50/50: the residue cent
		// goes to the smaller key.
		{"split residue", "auto", "renewal", "1000.10", "USD", []tp{{"A-2", "agent", 5000}, {"A-3", "agent", 5000}},
			"agent:A-2=5001/auto agent:A-3=5000/auto", 10001},
		// A flat reward is paid pro rata to credit: 1 bp of 25.00 rounds to
		// 0; the customer's share of the policy commission is not paid.
		{"reward pro rata", "auto", "renewal", "1000.00", "USD", []tp{{"A-2", "agent", 9999}, {"C-1", "customer", 1}},
			"agent:A-2=9999/auto customer:C-1=0/customer-reward", 9999},
		{"reward in full at 10 000 bp", "auto", "new_business", "99999.00", "EUR", []tp{{"C-1", "customer", 10000}},
			"customer:C-1=2000/customer-reward", 2000},
		// Gold uplift: 20 % on top of the payee's share (10.00 % of 1 000.00
		// → 100.00 + 20.00), then overrides on the accrual.
		{"uplift", "auto", "new_business", "1000.00", "USD", []tp{{"A-1", "agent", 10000}},
			"agency:AG-1=1200/override:1 agent:A-1=12000/auto+gold-uplift mga:M-1=600/override:2", 12000},
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
			if got := total(t, lines); got != tt.total {
				t.Errorf("policy total %d, want %d", got, tt.total)
			}
		})
	}
}

// TestAmountsPerCurrency (issue #13, rules finding 2): money literals are
// per currency, parsed at load; a currency a rule has no amount for is a
// no_matching_rule dead letter, never an amount read in the wrong currency.
func TestAmountsPerCurrency(t *testing.T) {
	t.Parallel()
	rs := rules(t)
	tests := []struct {
		name, premium, currency string
		want                    string
		code                    string
	}{
		// 30 % of 1 000 000 JPY = 300 000, capped at the JPY cap 150 000.
		{"JPY cap", "1000000", "JPY", "agent:A-2=150000/life-first-year", ""},
		// 30 % of 1 000 JPY = 300, raised to the JPY minimum 5 000.
		{"JPY minimum", "1000", "JPY", "agent:A-2=5000/life-first-year", ""},
		// 30 % of 10 000.000 BHD = 3 000.000, capped at 500.000 BHD (not 1 500).
		{"BHD cap", "10000.000", "BHD", "agent:A-2=500000/life-first-year", ""},
		{"no CHF amount", "1000.00", "CHF", "", CodeNoRule},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, att := attEnvelope("life", "new_business", tt.premium, tt.currency, 1, tp{"A-2", "agent", 10000})
			lines, err := Lines(rs, env, att)
			if tt.code != "" {
				var rej *worker.RejectError
				if !errorsAs(err, &rej) || rej.Reasons[0].Code != tt.code || !strings.Contains(err.Error(), tt.currency) {
					t.Fatalf("error %v, want %s naming %s", err, tt.code, tt.currency)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := describe(t, lines); got != tt.want {
				t.Errorf("lines\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestAmountLiteralsCheckedAtLoad (finding 2): a literal with more decimals
// than its currency, or an unknown currency, refuses the file.
func TestAmountLiteralsCheckedAtLoad(t *testing.T) {
	t.Parallel()
	const head = `{"schema_version":2,"version":"v","rules":[{"id":"r","when":"true","amount":`
	tests := []struct{ amount, want string }{
		{`{"percent":"30","min":{"USD":"50.00","JPY":"50.00"}}}]}`, `rule "r": min: JPY "50.00"`},
		{`{"percent":"30","cap":{"XXQ":"1"}}}]}`, `rule "r": cap: XXQ`},
		{`{"flat":{"BHD":"1.0001"}}}]}`, `rule "r": flat: BHD`},
		{`{"bands":[{"up_to":{"USD":"10.00"},"percent":"1"},{"up_to":{"USD":"5.00"},"percent":"1"},{"percent":"2"}]}}]}`, "not above"},
		{`{"bands":[{"up_to":{"USD":"10.00"},"percent":"1"},{"up_to":{"EUR":"50.00"},"percent":"1"},{"percent":"2"}]}}]}`, "currencies"},
	}
	for _, tt := range tests {
		if _, err := ParseRules([]byte(head + tt.amount)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseRules(%s) error = %v, want one mentioning %q", tt.amount, err, tt.want)
		}
	}
}

// TestAllExcludedIsUnattributed (issue #13, rules finding 3): a lead whose
// touches are all excluded is an unattributed conversion — zero accruals
// naming who was considered — not a weights_not_10000 dead letter.
func TestAllExcludedIsUnattributed(t *testing.T) {
	t.Parallel()
	rs := rules(t)
	env, att := attEnvelope("auto", "new_business", "1000.00", "USD", 1, tp{"C-1", "customer", 0}, tp{"C-2", "customer", 0})
	for i := range att.Touchpoints {
		att.Touchpoints[i].Excluded = true
	}
	lines, err := Lines(rs, env, att)
	if err != nil {
		t.Fatalf("all-excluded lead: %v", err)
	}
	if got, want := describe(t, lines), "customer:C-1=0/unattributed customer:C-2=0/unattributed"; got != want {
		t.Errorf("lines\n got %s\nwant %s", got, want)
	}
	// Weights that do not sum to 10 000 with a counted touch stay refused.
	att.Touchpoints[0].Excluded = false
	var rej *worker.RejectError
	if _, err := Lines(rs, env, att); !errorsAs(err, &rej) || rej.Reasons[0].Code != CodeBadWeights {
		t.Errorf("counted touch without weight: %v, want %s", err, CodeBadWeights)
	}
}

// TestUplinesCheckedAtLoad (issue #13, rules finding 4): an upline that is
// not a listed payee, or a chain that comes back on itself, refuses the file.
func TestUplinesCheckedAtLoad(t *testing.T) {
	t.Parallel()
	const rule = `"rules":[{"id":"r","when":"true","amount":{"percent":"1"}}]}`
	tests := []struct{ payees, want string }{
		{`{"agent:a":{"upline":"agency:nobody"}}`, `payee "agent:a": upline "agency:nobody" is not a listed payee`},
		{`{"agent:a":{"upline":"agent:a"}}`, `cycle agent:a → agent:a`},
		{`{"agent:a":{"upline":"agency:b"},"agency:b":{"upline":"agent:a"}}`, `cycle agency:b → agent:a → agency:b`},
		{`{"agent:a":{"upline":"agency:b"},"agency:b":{"upline":"mga:c"},"mga:c":{"upline":"agency:b"}}`, `cycle agency:b → mga:c → agency:b`},
	}
	for _, tt := range tests {
		for _, head := range []string{`{"version":"v","payees":`, `{"schema_version":2,"version":"v","payees":`} {
			if _, err := ParseRules([]byte(head + tt.payees + "," + rule)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseRules(%s) error = %v, want one mentioning %q", head+tt.payees, err, tt.want)
			}
		}
	}
}

// TestV1Compatibility: a v1 file loads only where v2 reads it the same —
// percents of the policy's premium on policy conditions; money literals
// (read in the policy's currency in v1) and payee conditions must be
// converted.
func TestV1Compatibility(t *testing.T) {
	t.Parallel()
	if _, err := ParseRules([]byte(`{"version":"v","rules":[{"id":"a","when":"product_line == \"auto\"","amount":{"percent":"1"}}]}`)); err != nil {
		t.Errorf("v1 percent rules: %v", err)
	}
	for _, in := range []string{
		`{"version":"v","rules":[{"id":"a","when":"true","amount":{"percent":"1","cap":"10.00"}}]}`,
		`{"version":"v","rules":[{"id":"a","when":"true","amount":{"flat":{"USD":"10.00"}}}]}`,
		`{"version":"v","rules":[{"id":"a","when":"payee_type == \"agent\"","amount":{"percent":"1"}}]}`,
	} {
		if _, err := ParseRules([]byte(in)); err == nil || !strings.Contains(err.Error(), "v2") {
			t.Errorf("ParseRules(%s) error = %v, want one asking for v2", in, err)
		}
	}
}
