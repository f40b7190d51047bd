package audit

import (
	"fmt"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/schemas"
)

// TestDeriveLifecycle (issue #13, lifecycle): a decision says who decided
// what and why, a decline's reversal says it was declined (not superseded),
// and an accrual says until when it is held.
func TestDeriveLifecycle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		e    schemas.JournalEntry
		want string
	}{
		{"decision", schemas.JournalEntry{Kind: schemas.EntryDecision, Corrects: "acc-1", Decision: schemas.DecisionDecline,
			Actor: "ops@acme", Reason: "fraud", CauseID: "d-1", Currency: "USD"},
			"decision: decline of accrual acc-1 by ops@acme, request d-1: fraud"},
		{"named hold", schemas.JournalEntry{Kind: schemas.EntryDecision, Corrects: "acc-1", Decision: "hold", RuleID: "banned",
			RuleSetVersion: "v7", Actor: "rule:banned@v7", Reason: "fraud:banned_referrer", CauseID: "att-1", Currency: "USD"},
			"decision: accrual acc-1 held for fraud:banned_referrer by hold rule banned of rule set v7, until an admin approves (releases) or declines it"},
		{"decline reversal", schemas.JournalEntry{Kind: schemas.EntryReversal, Corrects: "acc-1", Actor: "ops@acme", Reason: "fraud",
			CauseID: "d-1", Currency: "USD", AmountMinor: -100},
			"reverses: what still stood of accrual acc-1, declined by ops@acme, request d-1: fraud"},
		{"held accrual", schemas.JournalEntry{Kind: schemas.EntryAccrual, HoldUntil: "2026-01-31", Rate: "30", Currency: "USD"},
			"hold: held until 2026-01-31 (the product line's holding period), approved from then on unless decided otherwise"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var lines []string
			for _, s := range Derive(tt.e) {
				lines = append(lines, fmt.Sprintf("%s: %s", s.What, s.Detail))
			}
			if !strings.Contains(strings.Join(lines, "\n"), tt.want) {
				t.Errorf("derivation\n%s\nlacks %q", strings.Join(lines, "\n"), tt.want)
			}
		})
	}
}

// TestDeriveLicenceAndFX (issue #18): explain says whether the payee was
// licensed, what a referral fee is, and with which rate snapshot an entry
// converts to the payee's payout currency (or that none was found).
func TestDeriveLicenceAndFX(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		e    schemas.JournalEntry
		want string
	}{
		{"unlicensed", schemas.JournalEntry{Kind: schemas.EntryAccrual, RuleID: "referral_fee:US-CA", Rate: "flat", Currency: "USD",
			LicenceCheck: "unlicensed:US-CA:life", AmountMinor: 2500},
			"licence: not licensed for life in US-CA on the policy's effective date: paid the jurisdiction's referral fee (referral_fee:US-CA), not commission"},
		{"not appointed", schemas.JournalEntry{Kind: schemas.EntryAccrual, RuleID: "referral_fee:US-CA", Rate: "flat", Currency: "USD",
			LicenceCheck: "not_appointed:acme-life", AmountMinor: 2500},
			"licence: not appointed by the policy's carrier acme-life on the policy's effective date: paid the jurisdiction's referral fee (referral_fee:US-CA), not commission"},
		{"override not appointed", schemas.JournalEntry{Kind: schemas.EntryAccrual, RuleID: "override:1", OverrideLevel: 1, Currency: "USD",
			LicenceCheck: "not_appointed:acme-life"},
			"licence: not appointed by the policy's carrier acme-life on the policy's effective date: no override"},
		{"licensed", schemas.JournalEntry{Kind: schemas.EntryAccrual, RuleID: "life", Rate: "30", Currency: "USD", LicenceCheck: "licensed:US-CA:life"},
			"licence: licensed for life in US-CA on the policy's effective date"},
		{"capped fee", schemas.JournalEntry{Kind: schemas.EntryAccrual, RuleID: "referral_fee:US-TX", Rate: "capped", Currency: "USD",
			LicenceCheck: "unlicensed:US-TX:life", BaseMinor: 150000},
			"rule: referral_fee:US-TX of rule set : the commission share (the base), at most the jurisdiction's cap"},
		{"converted", schemas.JournalEntry{Kind: schemas.EntryAccrual, Rate: "10", Currency: "USD", AmountMinor: 5000,
			PayoutCurrency: "EUR", PayoutAmountMinor: 4625, FXRate: "0.925", FXSource: "ecb", FXAsOf: "2025-12-31T00:00:00Z"},
			"fx: paid in EUR: 50.00 USD × 0.925 (ecb, as of 2025-12-31T00:00:00Z) = 46.25 EUR, rounded half to even"},
		{"correction converted", schemas.JournalEntry{Kind: schemas.EntryClawback, Currency: "USD", AmountMinor: -2507,
			PayoutCurrency: "EUR", PayoutAmountMinor: -2319, FXRate: "0.925", FXSource: "ecb", FXAsOf: "2025-12-31T00:00:00Z"},
			"fx: paid in EUR: -23.19 EUR, the change it makes to the accrual's standing amount converted at 0.925 (ecb, as of 2025-12-31T00:00:00Z)"},
		{"no rate", schemas.JournalEntry{Kind: schemas.EntryAccrual, Rate: "10", Currency: "USD", AmountMinor: 5000, PayoutCurrency: "JPY"},
			"fx: paid in JPY, but no USD→JPY rate as of its attribution: held for fx:missing_rate, not converted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var lines []string
			for _, s := range Derive(tt.e) {
				lines = append(lines, fmt.Sprintf("%s: %s", s.What, s.Detail))
			}
			if !strings.Contains(strings.Join(lines, "\n"), tt.want) {
				t.Errorf("derivation\n%s\nlacks %q", strings.Join(lines, "\n"), tt.want)
			}
		})
	}
}
