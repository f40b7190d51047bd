package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/money"
)

// Step is one line of a derivation: what it is about and what it says.
type Step struct {
	What   string `json:"what"`
	Detail string `json:"detail"`
}

// Explanation is an entry with the derivation a payee is shown, and the
// explanations of the entries it rests on: the accrual a reversal,
// clawback or reinstatement corrects, the direct accrual an override is a
// share of.
type Explanation struct {
	Entry      schemas.JournalEntry `json:"entry"`
	Derivation []Step               `json:"derivation"`
	Corrects   *Explanation         `json:"corrects,omitempty"`
	ShareOf    *Explanation         `json:"share_of,omitempty"`
}

// Lookup reads one journal entry by id (ReadEntry, bound to a connection).
type Lookup func(id string) (schemas.JournalEntry, error)

// maxDepth bounds how far Explain follows references: a journal goes
// override → accrual at most, and a correction → accrual → accrual, so
// deeper is a cycle only a tampered table could hold.
const maxDepth = 4

// Explain explains entry id and, through lookup, what it rests on.
func Explain(id string, lookup Lookup) (*Explanation, error) { return explain(id, lookup, 0) }

func explain(id string, lookup Lookup, depth int) (*Explanation, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("entry %s: references go deeper than %d entries", id, maxDepth)
	}
	e, err := lookup(id)
	if err != nil {
		return nil, err
	}
	x := &Explanation{Entry: e, Derivation: Derive(e)}
	if e.Corrects != "" {
		if x.Corrects, err = explain(e.Corrects, lookup, depth+1); err != nil {
			return nil, fmt.Errorf("explain what %s corrects: %w", id, err)
		}
	}
	if e.Kind == schemas.EntryAccrual && e.OverrideLevel > 0 && e.SourceEntryID != "" {
		if x.ShareOf, err = explain(e.SourceEntryID, lookup, depth+1); err != nil {
			return nil, fmt.Errorf("explain the accrual override %s is a share of: %w", id, err)
		}
	}
	return x, nil
}

// decisionHold is the decision of a named hold (commission.DecisionHold;
// audit is imported by commission's tests, so it cannot import commission).
const decisionHold = "hold"

// Derive is the derivation of one entry from its own "why" fields.
func Derive(e schemas.JournalEntry) []Step {
	amt := func(v int64) string { return amount(v, e.Currency) }
	steps := []Step{{"entry", fmt.Sprintf("%s to %s:%s, posted in %s", e.Kind, e.PayeeType, e.PayeeID, e.Period)}}
	switch {
	case e.Kind == schemas.EntryAdjustment:
		steps = append(steps, Step{"adjustment", fmt.Sprintf("by %s, request %s: %s", e.Actor, e.CauseID, e.Reason)})
	case e.Kind == schemas.EntryDecision && e.Decision == decisionHold && e.RuleID == "":
		// Requested by a scheduled fraud rule (velocity): no rule set's rule.
		steps = append(steps, Step{"decision", fmt.Sprintf("accrual %s held for %s by %s, request %s, until an admin approves (releases) or declines it",
			e.Corrects, e.Reason, e.Actor, e.CauseID)})
	case e.Kind == schemas.EntryDecision && e.Decision == decisionHold:
		steps = append(steps, Step{"decision", fmt.Sprintf("accrual %s held for %s by hold rule %s of rule set %s, until an admin approves (releases) or declines it",
			e.Corrects, e.Reason, e.RuleID, e.RuleSetVersion)})
	case e.Kind == schemas.EntryDecision:
		steps = append(steps, Step{"decision", fmt.Sprintf("%s of accrual %s by %s, request %s: %s", e.Decision, e.Corrects, e.Actor, e.CauseID, e.Reason)})
	case e.Kind == schemas.EntryReversal && e.Actor != "":
		// Only a decline's reversal has an actor: a superseding version has none.
		steps = append(steps, Step{"reverses", fmt.Sprintf("what still stood of accrual %s, declined by %s, request %s: %s",
			e.Corrects, e.Actor, e.CauseID, e.Reason)})
	case e.Kind == schemas.EntryReversal:
		steps = append(steps, Step{"reverses", fmt.Sprintf("what still stood of accrual %s, superseded by attribution %s version %d",
			e.Corrects, e.AttributionID, e.AttributionVersion)})
	case e.Kind == schemas.EntryClawback || e.Kind == schemas.EntryReinstatement:
		steps = append(steps, Step{e.Kind, fmt.Sprintf("accrual %s brought to what cancellation %s on %s leaves unearned (rule set %s's chargeback window)",
			e.Corrects, e.CauseID, e.CancelledOn, e.RuleSetVersion)})
	case e.OverrideLevel > 0:
		steps = append(steps,
			Step{"attribution", fmt.Sprintf("%s version %d, policy %s", e.AttributionID, e.AttributionVersion, e.PolicyID)},
			Step{"override", fmt.Sprintf("level %d upline of the payee of accrual %s", e.OverrideLevel, e.SourceEntryID)},
			Step{"base", amt(e.BaseMinor) + ": that accrual"},
			Step{"rule", fmt.Sprintf("%s of rule set %s: %s %% of the base", e.RuleID, e.RuleSetVersion, e.Rate)})
	default:
		steps = append(steps, accrual(e, amt)...)
	}
	if e.Kind == schemas.EntryAccrual && e.HoldUntil != "" {
		steps = append(steps, Step{"hold", fmt.Sprintf("held until %s (the product line's holding period), approved from then on unless decided otherwise", e.HoldUntil)})
	}
	steps = append(steps, licence(e)...)
	steps = append(steps, Step{"amount", amt(e.AmountMinor)})
	return append(steps, fx(e)...)
}

// licence says how the licence registry judged the payee (issue #18).
func licence(e schemas.JournalEntry) []Step {
	verdict, where, ok := strings.Cut(e.LicenceCheck, ":")
	if !ok {
		return nil
	}
	jurisdiction, line, _ := strings.Cut(where, ":")
	var why string
	switch verdict {
	case "licensed":
		return []Step{{"licence", fmt.Sprintf("licensed for %s in %s on the policy's effective date", line, jurisdiction)}}
	case "not_appointed":
		why = fmt.Sprintf("not appointed by the policy's carrier %s on the policy's effective date", where)
	default:
		why = fmt.Sprintf("not licensed for %s in %s on the policy's effective date", line, jurisdiction)
	}
	if e.OverrideLevel > 0 {
		return []Step{{"licence", why + ": no override"}}
	}
	return []Step{{"licence", fmt.Sprintf("%s: paid the jurisdiction's referral fee (%s), not commission", why, e.RuleID)}}
}

// fx says how the entry converts to the payee's payout currency.
func fx(e schemas.JournalEntry) []Step {
	switch {
	case e.PayoutCurrency == "":
		return nil
	case e.FXRate == "":
		return []Step{{"fx", fmt.Sprintf("paid in %s, but no %s→%s rate as of its attribution: held for fx:missing_rate, not converted",
			e.PayoutCurrency, e.Currency, e.PayoutCurrency)}}
	case e.Kind == schemas.EntryAccrual:
		return []Step{{"fx", fmt.Sprintf("paid in %s: %s × %s (%s, as of %s) = %s, rounded half to even", e.PayoutCurrency,
			amount(e.AmountMinor, e.Currency), e.FXRate, e.FXSource, e.FXAsOf, amount(e.PayoutAmountMinor, e.PayoutCurrency))}}
	default:
		return []Step{{"fx", fmt.Sprintf("paid in %s: %s, the change it makes to the accrual's standing amount converted at %s (%s, as of %s)",
			e.PayoutCurrency, amount(e.PayoutAmountMinor, e.PayoutCurrency), e.FXRate, e.FXSource, e.FXAsOf)}}
	}
}

// accrual is the derivation of a payee's own accrual: its credit, the
// premium share it earns on, and the rule that priced it.
func accrual(e schemas.JournalEntry, amt func(int64) string) []Step {
	steps := []Step{
		{"attribution", fmt.Sprintf("%s version %d, model %s%s", e.AttributionID, e.AttributionVersion, e.Model, modelVersion(e.ModelVersion))},
		{"credit", fmt.Sprintf("%d bp (%s %%) of the policy", e.WeightBP, bpPercent(e.WeightBP))},
		{"premium", fmt.Sprintf("%s, policy %s (%s, %s)", amt(e.PremiumMinor), e.PolicyID, e.ProductLine, e.SaleType)},
		{"base", fmt.Sprintf("%s: the premium's share by credit, rounding residue %+d minor units", amt(e.BaseMinor), e.ResidueMinor)},
	}
	if e.RuleID == "no_credit" {
		return append(steps, Step{"rule", "no_credit: no credit under the paid model earns nothing"})
	}
	rate := e.Rate + " % of the base"
	switch e.Rate {
	case "flat":
		rate = "a flat amount"
	case "bands":
		rate = "marginal bands of the base: " + e.Band
	case "capped":
		rate = "the commission share (the base), at most the jurisdiction's cap"
	case "none":
		rate = "nothing: the jurisdiction pays no referral fee"
	}
	steps = append(steps, Step{"rule", fmt.Sprintf("%s of rule set %s: %s", e.RuleID, e.RuleSetVersion, rate)})
	if e.MinApplied {
		steps = append(steps, Step{"minimum", "applied: raised to the rule's minimum"})
	}
	if e.CapApplied {
		steps = append(steps, Step{"cap", "applied: cut to the rule's cap"})
	}
	return steps
}

func amount(v int64, currency string) string {
	s, err := money.FormatMinor(v, currency)
	if err != nil {
		return strconv.FormatInt(v, 10) + " minor units of " + currency
	}
	return s + " " + currency
}

// bpPercent renders basis points as a percent with two decimals.
func bpPercent(bp int) string { return fmt.Sprintf("%d.%02d", bp/100, bp%100) }

// WriteJSON writes x as one indented JSON document.
func (x *Explanation) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(x); err != nil {
		return fmt.Errorf("write explanation: %w", err)
	}
	return nil
}

// WriteTable writes x as aligned lines, what it rests on indented below it.
func (x *Explanation) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	x.table(tw, "")
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write explanation: %w", err)
	}
	return nil
}

func (x *Explanation) table(w io.Writer, indent string) {
	e := x.Entry
	fmt.Fprintf(w, "%sentry id\t%s\n", indent, e.EntryID)
	for _, s := range x.Derivation {
		fmt.Fprintf(w, "%s%s\t%s\n", indent, s.What, s.Detail)
	}
	if e.ChainSeq > 0 {
		fmt.Fprintf(w, "%schain\t%d, seq %d, hash %s\n", indent, e.Chain, e.ChainSeq, e.Hash)
	}
	deeper := indent + strings.Repeat(" ", 4)
	if x.Corrects != nil {
		fmt.Fprintf(w, "%scorrects\t\n", indent)
		x.Corrects.table(w, deeper)
	}
	if x.ShareOf != nil {
		fmt.Fprintf(w, "%sshare of\t\n", indent)
		x.ShareOf.table(w, deeper)
	}
}

// modelVersion names a trained model's version after its name; rule-based
// models have none.
func modelVersion(v string) string {
	if v == "" {
		return ""
	}
	return " (trained, version " + v + ")"
}
