package commission

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/money"
)

// entrySpace namespaces journal entry ids: UUIDv5 of their cause, so that a
// replay or a redo after an abort posts the very same ids.
var entrySpace = uuid.MustParse("8c0aa818-218b-4af4-88cd-7cdbe2c87e66")

func entryID(parts ...string) string {
	return uuid.NewSHA1(entrySpace, []byte(strings.Join(parts, "|"))).String()
}

// accrualID: an attribution version pays each line key once.
func accrualID(attributionID string, version int64, lineKey string) string {
	return entryID(schemas.EntryAccrual, attributionID, strconv.FormatInt(version, 10), lineKey)
}

// reversalID: an accrual is reversed once, by the version superseding it.
func reversalID(accrual string, superseding int64) string {
	return entryID(schemas.EntryReversal, accrual, strconv.FormatInt(superseding, 10))
}

// settleID names a clawback or reinstatement of one accrual under one
// cancellation. seq (the policy's count of cancellations applied) tells a
// cancellation apart from the same one sent again after a correction in
// between (d1, d2, d1), which moves the money again and so is a new entry.
func settleID(kind, cancelID, accrual string, seq int64) string {
	return entryID(kind, cancelID, accrual, strconv.FormatInt(seq, 10))
}

// adjustmentID: one entry per partner's adjustment request.
func adjustmentID(partnerID, requestID string) string {
	return entryID(schemas.EntryAdjustment, schemas.Scoped(partnerID, requestID))
}

// periodOf is the accounting period of entries caused by env: the UTC month
// of its received_at (occurred_at when it has none), a property of the
// record, so a replay posts in the same period whenever it runs.
func periodOf(env schemas.Envelope) string {
	at := env.OccurredAt
	if env.ReceivedAt != nil {
		at = *env.ReceivedAt
	}
	return at.UTC().Format("2006-01")
}

// policyState is what the journal remembers of one attribution (one policy
// conversion), under journalKey(attribution id): the accruals standing and
// the cancellation in force. It is all that decides the next entries.
type policyState struct {
	// Accrued is set once a version was journaled; Version is that version.
	Accrued        bool                 `json:"accrued,omitempty"`
	Version        int64                `json:"version,omitempty"`
	RuleSetVersion string               `json:"rule_set_version,omitempty"`
	ChargebackDays int                  `json:"chargeback_days,omitempty"` // of the rule set that paid Version
	Policy         schemas.PolicyIssued `json:"policy"`
	// Standing are Version's accruals of a nonzero amount, each with what
	// cancellations hold clawed back of it.
	Standing []standing `json:"standing,omitempty"`
	// Cancel is the cancellation in force (the last one received), kept
	// even before anything accrued, so that what accrues later is clawed
	// back as far as it is unearned.
	Cancel *cancelState `json:"cancel,omitempty"`
	// Cancellations counts cancellations applied (see settleID).
	Cancellations int64 `json:"cancellations,omitempty"`
}

type standing struct {
	Entry  schemas.JournalEntry `json:"entry"`
	Clawed int64                `json:"clawed_minor,omitempty"` // clawbacks less reinstatements, ≥ 0
}

type cancelState struct {
	EventID string `json:"event_id"`
	On      string `json:"on"` // YYYY-MM-DD
}

// Lines computes the accrual entries of one attribution version, as
// commission.entry envelopes. It is pure: the same rules and attribution
// always give the same entries, ids included, and it knows nothing of
// earlier versions or cancellations (ProcessState adds reversals and
// clawbacks from the policy's state), so whatif can replay it.
//
// The policy's commission is computed once, under the first rule matching
// the policy (bands, minimum and cap on the whole policy), then split by
// the paid model's weights exactly (Split: floors, then largest remainders,
// ties to the smaller payee key), so the total does not depend on how many
// payees share it. The first payee rule matching a payee may then adjust
// its share (PayeeRule.Adjust). Payees with no credit get a zero accrual
// (rule no_credit), and a conversion whose touches are all excluded zero
// accruals (rule unattributed), so the journal shows who was considered.
// Then each positive accrual pays the configured override percents up the
// payee's upline chain, as accruals of their own.
func Lines(rs *RuleSet, env schemas.Envelope, att schemas.AttributionCalculated) ([]schemas.Envelope, error) {
	es, err := accruals(rs, env, att)
	if err != nil {
		return nil, err
	}
	return envelopes(env, es)
}

// LinesFor is Lines with the reference data the stage runs with: the
// licence registry's referral fees (licences and carrier appointments) and
// each accrual's conversion to its payee's payout currency at the rate as
// of the attribution's receipt, as the stage posts them. What-if prices
// history with it; holds are not its concern (they move no money).
func LinesFor(rs *RuleSet, ref Reference, env schemas.Envelope, att schemas.AttributionCalculated) ([]schemas.Envelope, error) {
	es, err := accrualsFor(rs, ref, env, att)
	if err != nil {
		return nil, err
	}
	if _, err := ref.convertAccruals(es, receivedAt(env)); err != nil {
		return nil, worker.Reject(CodeBadRule, "/payload/policy", "%v", err)
	}
	return envelopes(env, es)
}

// accruals is Lines before the entries become envelopes.
func accruals(rs *RuleSet, env schemas.Envelope, att schemas.AttributionCalculated) ([]schemas.JournalEntry, error) {
	return accrualsFor(rs, Reference{}, env, att)
}

// accrualsFor is accruals with the licence registry of ref: a payee
// unlicensed for a policy with a jurisdiction gets its referral fee (no
// overrides on it), an upline unlicensed there no override. Conversion to
// payout currencies is the caller's (Reference.convertAccruals).
func accrualsFor(rs *RuleSet, ref Reference, env schemas.Envelope, att schemas.AttributionCalculated) ([]schemas.JournalEntry, error) {
	p := att.Policy
	premium, err := commissionBase(p)
	if err != nil {
		return nil, err
	}
	if len(att.Touchpoints) == 0 {
		return nil, nil // unattributed: nobody to pay, counted by attribute
	}
	base := schemas.JournalEntry{Kind: schemas.EntryAccrual, Currency: p.Currency, Period: periodOf(env),
		CauseID: env.EventID, AttributionID: env.EventID, AttributionVersion: att.Version, PolicyID: p.PolicyID,
		PartnerID: env.PartnerID, LeadID: env.LeadID, ProductLine: p.ProductLine, SaleType: p.SaleType,
		Model: att.PaidModel, ModelVersion: att.ModelVersion, RuleSetVersion: rs.Version, PremiumMinor: premium}
	if allExcluded(att) {
		return unattributed(env, att, base), nil
	}
	shares, err := paidShares(att)
	if err != nil {
		return nil, err
	}
	rule, d, err := policyCommission(rs, env, p, premium)
	if err != nil {
		return nil, err
	}
	base.RuleID, base.Rate, base.Band, base.MinApplied, base.CapApplied = rule.ID, d.Rate, d.Band, d.MinApplied, d.CapApplied
	base.BaseMinor = premium
	split := Split(d.Amount, shares)
	var out []schemas.JournalEntry
	for i, s := range shares {
		e, err := direct(rs, ref, env, att, base, s, d.Amount, split[i])
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		out = append(out, overrides(rs, ref, att.Policy, e, s.Payee)...)
	}
	return out, nil
}

// allExcluded says whether every touch of att is excluded: the conversion
// is unattributed (attribute counts it), not a broken set of weights.
func allExcluded(att schemas.AttributionCalculated) bool {
	for _, tp := range att.Touchpoints {
		if !tp.Excluded {
			return false
		}
	}
	return true
}

// unattributed are the zero accruals of a conversion whose touches are all
// excluded, one per payee considered, so it is visible in the journal
// without being priced or dead-lettered.
func unattributed(env schemas.Envelope, att schemas.AttributionCalculated, base schemas.JournalEntry) []schemas.JournalEntry {
	seen := map[string]bool{}
	var out []schemas.JournalEntry
	for _, tp := range att.Touchpoints {
		payee := tp.ReferrerType + ":" + tp.ReferrerID
		if seen[payee] {
			continue
		}
		seen[payee] = true
		e := base
		e.PayeeType, e.PayeeID = tp.ReferrerType, tp.ReferrerID
		e.EntryID, e.RuleID = accrualID(env.EventID, att.Version, payee), "unattributed"
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PayeeType+":"+out[i].PayeeID < out[j].PayeeType+":"+out[j].PayeeID })
	return out
}

// paidShares are the paid model's weights per payee ("type:id"), sorted by
// payee; they must sum to 10 000.
func paidShares(att schemas.AttributionCalculated) ([]Share, error) {
	weights := map[string]int{}
	total := 0
	for _, tp := range att.Touchpoints {
		w := tp.Weights[att.PaidModel]
		total += w
		weights[tp.ReferrerType+":"+tp.ReferrerID] += w
	}
	if total != 10_000 {
		return nil, worker.Reject(CodeBadWeights, "/payload/touchpoints", "model %s weights sum to %d", att.PaidModel, total)
	}
	shares := make([]Share, 0, len(weights))
	for k, w := range weights {
		shares = append(shares, Share{Payee: k, WeightBP: w})
	}
	sort.Slice(shares, func(i, j int) bool { return shares[i].Payee < shares[j].Payee })
	return shares, nil
}

// policyCommission is the policy's commission, once per policy, under the
// first rule matching the policy. A rule without an amount in the
// policy's currency leaves the policy unpriced: no_matching_rule.
func policyCommission(rs *RuleSet, env schemas.Envelope, p schemas.PolicyIssued, premium int64) (*Rule, Derivation, error) {
	rule, err := rs.Match(PolicyEnv{ProductLine: p.ProductLine, SaleType: p.SaleType, Currency: p.Currency, PremiumMinor: premium,
		TermMonths: p.TermMonths, PartnerID: env.PartnerID, FirstYear: p.SaleType == schemas.SaleNewBusiness,
		InstallmentNumber: installmentNumber(p), InstallmentCount: installmentCount(p)})
	if err != nil {
		return nil, Derivation{}, worker.Reject(CodeBadRule, "/payload/policy", "%v", err)
	}
	if rule == nil {
		return nil, Derivation{}, worker.Reject(CodeNoRule, "/payload/policy", "rule set %s has no rule for %s/%s", rs.Version, p.ProductLine, p.SaleType)
	}
	d, err := rule.Amount.Explain(premium, p.Currency)
	if errors.Is(err, errNoCurrency) {
		return nil, d, worker.Reject(CodeNoRule, "/payload/policy/currency", "rule set %s, rule %q: %v", rs.Version, rule.ID, err)
	}
	if err != nil {
		return nil, d, worker.Reject(CodeBadRule, "/payload/policy", "rule %q: %v", rule.ID, err)
	}
	return rule, d, nil
}

// direct is one payee's own accrual: its share of the policy commission
// (commission total), adjusted by the first payee rule matching it.
func direct(rs *RuleSet, refs Reference, env schemas.Envelope, att schemas.AttributionCalculated, base schemas.JournalEntry, s Share, commission, share int64) (schemas.JournalEntry, error) {
	p := att.Policy
	e := base
	e.PayeeType, e.PayeeID, _ = strings.Cut(s.Payee, ":")
	e.EntryID = accrualID(env.EventID, att.Version, s.Payee)
	e.WeightBP = s.WeightBP
	if s.WeightBP == 0 {
		e.RuleID, e.Rate, e.Band, e.MinApplied, e.CapApplied = "no_credit", "", "", false, false
		return e, nil
	}
	floor, _ := floorShare(commission, s.WeightBP)
	e.AmountMinor, e.ResidueMinor = share, share-floor
	ref := rs.Payees[s.Payee]
	rule, err := rs.MatchPayee(Env{ProductLine: p.ProductLine, SaleType: p.SaleType, Currency: p.Currency, PremiumMinor: base.PremiumMinor,
		TermMonths: p.TermMonths, PartnerID: env.PartnerID, PayeeID: e.PayeeID, PayeeType: e.PayeeType, Payee: s.Payee, Tier: ref.Tier,
		Region: ref.Region, WeightBP: s.WeightBP, FirstYear: p.SaleType == schemas.SaleNewBusiness, SelfReferral: selfReferral(p, e.PayeeID),
		InstallmentNumber: installmentNumber(p), InstallmentCount: installmentCount(p)})
	if err != nil {
		return e, worker.Reject(CodeBadRule, "/payload/policy", "%v", err)
	}
	if rule == nil || rule.reward == nil {
		// Commission, an uplift included, needs a licence; a reward is a
		// referral reward already.
		check, licensed := refs.licenceCheck(s.Payee, p)
		e.LicenceCheck = check
		if !licensed {
			return referralFee(rs, e, p, share)
		}
	}
	if rule == nil {
		return e, nil
	}
	if e.AmountMinor, err = rule.Adjust(share, s.WeightBP, p.Currency); err != nil {
		return e, worker.Reject(CodeNoRule, "/payload/policy/currency", "rule set %s, payee rule %q: %v", rs.Version, rule.ID, err)
	}
	if rule.reward != nil {
		// A reward is not a share of the policy commission: its why is the
		// reward itself, pro rata to the weight.
		e.RuleID, e.Rate, e.Band, e.MinApplied, e.CapApplied, e.ResidueMinor = rule.ID, "flat", "", false, false, 0
		e.BaseMinor, _ = rule.reward.in(p.Currency, "reward")
		return e, nil
	}
	e.RuleID += "+" + rule.ID
	return e, nil
}

// overrides are the upline accruals on a positive direct accrual d of
// payee: overrides[i] percent of it to the payee's i-th upline.
func overrides(rs *RuleSet, ref Reference, p schemas.PolicyIssued, d schemas.JournalEntry, payee string) []schemas.JournalEntry {
	var out []schemas.JournalEntry
	if !paysCommission(d.LicenceCheck) {
		return nil // a referral fee is not commission: no upline shares it
	}
	up := rs.Payees[payee].Upline
	for level := 0; level < len(rs.overrides) && up != "" && d.AmountMinor > 0; level++ {
		o := d
		o.PayeeType, o.PayeeID, _ = strings.Cut(up, ":")
		o.EntryID = accrualID(d.AttributionID, d.AttributionVersion, payee+"|override|"+up)
		o.AmountMinor = PercentOf(d.AmountMinor, rs.overrides[level])
		o.RuleID, o.Rate, o.BaseMinor = fmt.Sprintf("override:%d", level+1), rs.Overrides[level], d.AmountMinor
		o.OverrideLevel, o.SourceEntryID = level+1, d.EntryID
		o.WeightBP, o.ResidueMinor, o.Band, o.MinApplied, o.CapApplied = 0, 0, "", false, false
		var licensed bool
		if o.LicenceCheck, licensed = ref.licenceCheck(up, p); !licensed {
			o.AmountMinor = 0 // an upline unlicensed or not appointed there earns no commission
		}
		out = append(out, o)
		up = rs.Payees[up].Upline
	}
	return out
}

// reversals take back, for a new version superseding p's, what still
// stands of each of p's accruals: its amount less what cancellations hold
// clawed of it, so that an accrual, its clawbacks and its reversal sum to
// zero. Each keeps the why of the accrual it reverses.
func reversals(p policyState, superseding int64, cause schemas.Envelope) []schemas.JournalEntry {
	var out []schemas.JournalEntry
	for _, s := range p.Standing {
		left := s.Entry.AmountMinor - s.Clawed
		if left == 0 {
			continue
		}
		r := s.Entry
		r.EntryID, r.Kind, r.AmountMinor, r.Corrects = reversalID(s.Entry.EntryID, superseding), schemas.EntryReversal, -left, s.Entry.EntryID
		r.PayoutAmountMinor = payoutDelta(s.Entry, left, 0)
		r.Period, r.CauseID, r.AttributionVersion = periodOf(cause), cause.EventID, superseding
		r.PartnerID, r.LeadID = cause.PartnerID, cause.LeadID
		out = append(out, r)
	}
	return out
}

// settle brings what is clawed back of each standing accrual of p to what
// the cancellation in force makes unearned: per accrual,
// round(amount × unearned days / term days) inside the chargeback window
// of the rule set that paid (0 outside it). What exceeds what is already
// clawed is a clawback (only the newly unearned: a repeated cancellation
// posts nothing); what falls short is a reinstatement (a later date than
// the cancellation before it). It returns the entries and p with them
// recorded; it is pure. cause is the record being processed: the
// cancellation, or the attribution version whose accruals a cancellation
// received earlier claws back.
func settle(p policyState, cause schemas.Envelope) ([]schemas.JournalEntry, policyState, error) {
	if p.Cancel == nil || len(p.Standing) == 0 {
		return nil, p, nil
	}
	unearned, term, err := unearnedDays(p.Policy, p.ChargebackDays, p.Cancel.On)
	if err != nil {
		return nil, p, err
	}
	after := p
	after.Standing = slices.Clone(p.Standing)
	var out []schemas.JournalEntry
	for i, s := range after.Standing {
		if s.Entry.AmountMinor <= 0 {
			continue
		}
		delta := proRata(s.Entry.AmountMinor, unearned, term) - s.Clawed
		if delta == 0 {
			continue
		}
		kind := schemas.EntryClawback
		if delta < 0 {
			kind = schemas.EntryReinstatement
		}
		after.Standing[i].Clawed += delta
		e := s.Entry
		e.PayoutAmountMinor = payoutDelta(s.Entry, s.Entry.AmountMinor-s.Clawed, s.Entry.AmountMinor-s.Clawed-delta)
		e.EntryID, e.Kind, e.AmountMinor, e.Corrects = settleID(kind, p.Cancel.EventID, s.Entry.EntryID, p.Cancellations), kind, -delta, s.Entry.EntryID
		e.Period, e.CauseID, e.CancelledOn = periodOf(cause), p.Cancel.EventID, p.Cancel.On
		e.PartnerID, e.LeadID = cause.PartnerID, cause.LeadID
		out = append(out, e)
	}
	return out, after, nil
}

// unearnedDays is how many days of the policy's term a cancellation on
// cancelledOn leaves unearned (0 outside the window of windowDays after
// the effective date, or with nothing left), and the term in days.
func unearnedDays(p schemas.PolicyIssued, windowDays int, cancelledOn string) (unearned, term int64, err error) {
	eff, end, err1 := p.Period()
	cancelled, err2 := time.Parse(time.DateOnly, cancelledOn)
	if err1 != nil || err2 != nil {
		return 0, 0, worker.Reject(CodeBadDates, "/payload/cancelled_on", "effective %q, cancelled %q", p.EffectiveDate, cancelledOn)
	}
	term = int64(end.Sub(eff).Hours() / 24)
	unearned = int64(end.Sub(cancelled).Hours() / 24)
	if cancelled.After(eff.AddDate(0, 0, windowDays)) || unearned <= 0 || term <= 0 {
		return 0, term, nil
	}
	return min(unearned, term), term, nil
}

// proRata is v × num/den rounded half away from zero.
func proRata(v, num, den int64) int64 {
	if num == 0 {
		return 0
	}
	n := new(big.Int).Mul(big.NewInt(v), big.NewInt(num))
	q, m := new(big.Int).QuoRem(n, big.NewInt(den), new(big.Int))
	if new(big.Int).Abs(new(big.Int).Mul(m, big.NewInt(2))).Cmp(big.NewInt(den)) >= 0 {
		q.Add(q, big.NewInt(int64(n.Sign())))
	}
	return q.Int64()
}

// adjustment is the entry of a manual adjustment request; the error is a
// permanent rejection of a request that cannot be posted.
func adjustment(env schemas.Envelope, req schemas.AdjustmentRequested) (schemas.JournalEntry, error) {
	var missing []string
	for name, v := range map[string]string{"request_id": req.RequestID, "payee_id": req.PayeeID, "payee_type": req.PayeeType,
		"actor": req.Actor, "reason": req.Reason} {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return schemas.JournalEntry{}, worker.Reject(CodeBadAdjustment, "/payload", "adjustment without %s", strings.Join(missing, ", "))
	}
	if _, err := money.Exponent(req.Currency); err != nil {
		return schemas.JournalEntry{}, worker.Reject(CodeBadAdjustment, "/payload/currency", "%v", err)
	}
	if req.AmountMinor == 0 {
		return schemas.JournalEntry{}, worker.Reject(CodeBadAdjustment, "/payload/amount_minor", "an adjustment of 0 changes nothing")
	}
	return schemas.JournalEntry{EntryID: adjustmentID(env.PartnerID, req.RequestID), Kind: schemas.EntryAdjustment,
		PayeeID: req.PayeeID, PayeeType: req.PayeeType, Currency: req.Currency, AmountMinor: req.AmountMinor,
		Period: periodOf(env), CauseID: req.RequestID, PolicyID: req.PolicyID, PartnerID: env.PartnerID, LeadID: env.LeadID,
		Actor: req.Actor, Reason: req.Reason}, nil
}

// envelopes are entries as commission.entry events of the cause's lead,
// with the cause's times.
func envelopes(cause schemas.Envelope, entries []schemas.JournalEntry) ([]schemas.Envelope, error) {
	out := make([]schemas.Envelope, len(entries))
	for i, e := range entries {
		payload, err := schemas.Encode(e)
		if err != nil {
			return nil, fmt.Errorf("encode journal entry %s: %w", e.EntryID, err)
		}
		out[i] = schemas.Envelope{EventID: e.EntryID, EventType: schemas.TypeCommissionEntry, SchemaVersion: 1,
			OccurredAt: cause.OccurredAt, ReceivedAt: cause.ReceivedAt, PartnerID: cause.PartnerID, LeadID: cause.LeadID,
			Payload: payload}
	}
	return out, nil
}
