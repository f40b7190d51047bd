package sample

import (
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func devReference(t *testing.T) *Reference {
	t.Helper()
	ref, err := LoadReference("../dev/licences.json", "../dev/rates.json")
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// TestOracleReferralFees mirrors commission/README.md "Licences and
// referral fees" with the dev files: a payee licensed for the policy's
// jurisdiction, line and effective date is paid the commission; one not
// licensed there the jurisdiction's fee — flat (US-CA 25.00), the
// commission capped (US-TX 100.00), or nothing (US-NY {}, or a
// jurisdiction the rules do not list); a v1 policy is not checked.
func TestOracleReferralFees(t *testing.T) {
	t.Parallel()
	r, ref := devRules(t), devReference(t)
	usd := func(j, line, on string) policyTerms {
		return policyTerms{product: line, currency: "USD", effective: on, jurisdiction: j}
	}
	tests := []struct {
		name       string
		payee      string
		terms      policyTerms
		commission int64
		want       int64
	}{
		{"licensed", "agent:A-1", usd("US-CA", "life", "2026-10-02"), 150000, 150000},
		{"licence expired", "agent:A-1", usd("US-CA", "life", "2028-01-01"), 150000, 2500},
		{"line not licensed: flat fee", "agent:A-1", usd("US-CA", "health", "2026-10-02"), 150000, 2500},
		{"not in the registry: cap bites", "agent:a-001", usd("US-TX", "auto", "2026-10-02"), 15000, 10000},
		{"cap does not bite", "agent:a-001", usd("US-TX", "auto", "2026-10-02"), 9999, 9999},
		{"fee of nothing", "agent:a-001", usd("US-NY", "auto", "2026-10-02"), 15000, 0},
		{"jurisdiction without a fee", "agent:a-001", usd("US-FL", "auto", "2026-10-02"), 15000, 0},
		{"open-ended licence", "agent:A-2", usd("US-NY", "travel", "2030-01-01"), 15000, 15000},
		{"v1 policy: no check", "agent:a-001", policyTerms{product: "auto", currency: "USD"}, 15000, 15000},
		// Carrier appointments (dev: agent:A-1 by dev-carrier from 2024-01-01,
		// agent:A-2 by second-carrier from 2025-01-01): licensed but not
		// appointed by the policy's carrier is paid like unlicensed.
		{"appointed by the carrier", "agent:A-1", carrier(usd("US-CA", "life", "2026-10-02"), "dev-carrier"), 150000, 150000},
		{"not appointed by the carrier: flat fee", "agent:A-1", carrier(usd("US-CA", "life", "2026-10-02"), "second-carrier"), 150000, 2500},
		{"before the appointment: fee of nothing", "agent:A-2", carrier(usd("US-NY", "auto", "2024-12-31"), "second-carrier"), 15000, 0},
		{"from the appointment's first day", "agent:A-2", carrier(usd("US-NY", "auto", "2025-01-01"), "second-carrier"), 15000, 15000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := r.directShare(ref, tt.payee, tt.terms, tt.commission); got != tt.want {
				t.Errorf("directShare = %d, want %d", got, tt.want)
			}
		})
	}
}

// carrier is terms t written by carrier c.
func carrier(t policyTerms, c string) policyTerms {
	t.carrier = c
	return t
}

// TestOracleHolds: the oracle holds a positive accrual by the first hold
// of the file that holds for it — a banned payee, or a self-referral (the
// payee's id is the policy's policyholder_ref) — and names its reason.
func TestOracleHolds(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "rules.json")
	if err := os.WriteFile(path, []byte(`{"schema_version":2,"version":"v","rules":[{"id":"r","when":"true","amount":{"percent":"1"}}],
		"holds":[{"id":"banned","reason":"fraud:banned_referrer","when":"payee in [\"customer:c-009\"]"},
		         {"id":"self","reason":"fraud:self_referral","when":"self_referral"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := LoadRules(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		payee, holder string
		amount        int64
		want          string
	}{
		{"customer:c-001", "c-001", 2500, "fraud:self_referral"},
		{"customer:c-009", "c-009", 2500, "fraud:banned_referrer"}, // the first hold wins
		{"customer:c-001", "c-002", 2500, ""},
		{"customer:c-001", "", 2500, ""},
		{"customer:c-001", "c-001", 0, ""}, // nothing to hold
		{"agent:A-1", "A-1", 2500, "fraud:self_referral"},
	}
	for _, tt := range tests {
		if got := r.holdOf(tt.payee, tt.holder, tt.amount); got != tt.want {
			t.Errorf("holdOf(%s, holder %q, %d) = %q, want %q", tt.payee, tt.holder, tt.amount, got, tt.want)
		}
	}
}

// TestOracleHalfEven: payouts in another currency are converted exactly
// and rounded once, half to even (commission/README.md "FX snapshots").
func TestOracleHalfEven(t *testing.T) {
	t.Parallel()
	tests := []struct {
		num, den int64
		want     int64
	}{
		{5, 2, 2}, {7, 2, 4}, {-5, 2, -2}, {-7, 2, -4}, {26, 10, 3}, {24, 10, 2}, {-26, 10, -3}, {4, 1, 4}, {0, 1, 0},
	}
	for _, tt := range tests {
		if got := halfEven(big.NewRat(tt.num, tt.den)); got != tt.want {
			t.Errorf("halfEven(%d/%d) = %d, want %d", tt.num, tt.den, got, tt.want)
		}
	}
}

// TestOraclePayout: agent:A-1 is paid in EUR at the dev rate 0.9237; a
// payee without a payout currency, or paid in the policy's, is not
// converted; a pair without a rate is held, not converted.
func TestOraclePayout(t *testing.T) {
	t.Parallel()
	ref := devReference(t)
	tests := []struct {
		payee, currency string
		amount          int64
		wantCur         string
		want            int64
		held            bool
	}{
		{"agent:A-1", "USD", 10000, "EUR", 9237, false},
		{"agent:A-1", "USD", 2500, "EUR", 2309, false}, // 2309.25
		{"agent:A-1", "USD", 50, "EUR", 46, false},     // 46.185
		{"agent:A-1", "EUR", 2500, "EUR", 2500, false},
		{"agent:A-1", "GBP", 2500, "GBP", 2500, true},
		{"agent:a-001", "USD", 2500, "USD", 2500, false},
	}
	for _, tt := range tests {
		cur, v, held := ref.payoutOf(tt.payee, tt.currency, tt.amount)
		if cur != tt.wantCur || v != tt.want || held != tt.held {
			t.Errorf("payoutOf(%s, %s %d) = %s %d held %v, want %s %d held %v", tt.payee, tt.currency, tt.amount, cur, v, held, tt.wantCur, tt.want, tt.held)
		}
	}
}

// TestOracleRefusesHoldsItDoesNotModel: a hold on anything but a list of
// payees would hold accruals the oracle cannot tell; and a rate file with
// two rates of one pair makes the rate depend on receipt times.
func TestOracleRefusesHoldsItDoesNotModel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.json")
	if err := os.WriteFile(rules, []byte(`{"schema_version":2,"version":"v","rules":[{"id":"r","when":"true","amount":{"percent":"1"}}],
		"holds":[{"id":"big","reason":"manual","when":"premium_minor > 5000000"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadRules(rules); err == nil || !strings.Contains(err.Error(), "hold big") {
		t.Errorf("LoadRules error = %v, want one naming hold big", err)
	}
	rates := filepath.Join(dir, "rates.json")
	if err := os.WriteFile(rates, []byte(`{"schema_version":1,"rates":[{"from":"USD","to":"EUR","rate":"0.9"},{"from":"USD","to":"EUR","rate":"0.8"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadReference("../dev/licences.json", rates); err == nil || !strings.Contains(err.Error(), "more than one USD→EUR") {
		t.Errorf("LoadReference error = %v, want one about two USD→EUR rates", err)
	}
}

// TestGenerateIssue18Cases: with the dev reference data the generator
// makes every case of issue #18 — v2 policies renewed to their agent of
// record, unlicensed referrers paid a referral fee, a banned referrer's
// accruals held by name, and a payee paid in EUR — and books them; the
// banned referrer is journaled all the same. Without a Reference it makes
// none.
func TestGenerateIssue18Cases(t *testing.T) {
	t.Parallel()
	opts := DefaultOptions()
	opts.Events = 3_000
	opts.Reference = devReference(t)
	ds, err := Generate(opts, devRules(t))
	if err != nil {
		t.Fatal(err)
	}
	w := ds.Want
	if w.Renewals == 0 || w.Unlicensed == 0 || w.Held == 0 || w.Converted == 0 || w.SelfReferrals == 0 || w.NotAppointed == 0 {
		t.Fatalf("renewals %d, unlicensed %d, held %d, converted %d, self-referrals %d, not appointed %d: want each > 0",
			w.Renewals, w.Unlicensed, w.Held, w.Converted, w.SelfReferrals, w.NotAppointed)
	}
	if w.SelfReferrals > w.Held {
		t.Errorf("%d self-referrals held, but %d holds in all", w.SelfReferrals, w.Held)
	}
	if w.CommissionByPayee["agent:X-9 USD"]+w.CommissionByPayee["agent:X-9 EUR"] <= 0 {
		t.Errorf("the banned referrer's held accruals are not journaled: %v", w.CommissionByPayee)
	}
	if w.PayoutByPayee["agent:A-1 EUR"] <= 0 || w.PayoutByPayee["agent:A-1 USD"] != 0 {
		t.Errorf("agent:A-1 payouts %d EUR, %d USD: want all in EUR", w.PayoutByPayee["agent:A-1 EUR"], w.PayoutByPayee["agent:A-1 USD"])
	}
	var v2, renewals, monthly int
	for _, r := range ds.Records {
		var e struct {
			Version int `json:"schema_version"`
			ID      string
			Payload struct {
				Sale         string `json:"sale_type"`
				Jurisdiction string `json:"jurisdiction"`
				Agent        string `json:"agent_of_record"`
				Installment  *struct {
					Number int `json:"number"`
				} `json:"installment"`
			} `json:"payload"`
		}
		if json.Unmarshal(r.Value, &e) != nil || e.Version != 2 || r.Kind != "valid" {
			continue
		}
		v2++
		if e.Payload.Jurisdiction == "" || e.Payload.Agent == "" {
			t.Errorf("a v2 policy without jurisdiction or agent: %s", r.Value)
		}
		switch {
		case e.Payload.Sale == "renewal":
			renewals++
		case e.Payload.Sale == "installment" && e.Payload.Installment.Number == 1:
			monthly++
		}
		if e.Payload.Sale == "installment" {
			v2-- // counted by TestGenerateInstallments
		}
	}
	// Each v2 issue is renewed or paid monthly, but the last lead may run
	// out of events.
	if renewals != w.Renewals || v2 < 2*renewals+monthly || v2 > 2*renewals+monthly+1 {
		t.Errorf("%d v2 records, %d renewals sent, %d policies paid monthly; oracle books %d renewals", v2, renewals, monthly, w.Renewals)
	}

	opts.Reference = nil
	plain, err := Generate(opts, devRules(t))
	if err != nil {
		t.Fatal(err)
	}
	if p := plain.Want; p.Renewals+p.Unlicensed+p.Held+p.Converted+p.SelfReferrals+p.NotAppointed != 0 {
		t.Errorf("without a Reference: renewals %d, unlicensed %d, held %d, converted %d", p.Renewals, p.Unlicensed, p.Held, p.Converted)
	}
}
