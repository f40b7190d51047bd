package commission

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// Lifecycle states of an accrual. No state is stored: Status derives it at
// query time from the journal and the payouts, as the ClickHouse view
// commission_entry_status does (migration 0008), so a decision, a delivery
// or the passing of a hold never rewrites an entry.
const (
	StatusPending  = "pending"
	StatusHeld     = "held"
	StatusApproved = "approved"
	StatusPaid     = "paid"
	StatusDeclined = "declined"
)

// DecisionHold is the decision of a named hold: a decision entry (amount 0,
// correcting the accrual) a hold rule posts with the accrual, its reason
// the hold's ("fraud:banned_referrer", "manual") and its actor
// "rule:<hold id>@<rule set version>"; or one a scheduled fraud rule
// requests on the decisions topic (velocity: reason "fraud:velocity",
// actor "rule:velocity@<params>"). Only an admin's approve or decline
// ends it.
const DecisionHold = schemas.DecisionHold

// CodeBadDecision rejects a decision request that cannot be posted.
const CodeBadDecision = "invalid_decision"

// Facts are what the journal and the payouts say of one accrual.
type Facts struct {
	HoldUntil string // the accrual's, YYYY-MM-DD; "" when journaled before the lifecycle
	HeldFor   string // the reason of a named hold on it (a hold decision), "" for none
	Approved  bool   // an approve decision corrects it
	Declined  bool   // a decline decision corrects it
	Paid      bool   // its payee, currency and period have a payout_deliveries row
}

// Status is the state of an accrual on day today (YYYY-MM-DD). The order
// is the policy: a decline is final, even after a payout (its reversal is
// in a later statement); a delivered statement is paid; an admin's
// approval ends a hold early, a named hold included; a named hold lasts
// until someone decides, whatever hold_until says; the hold runs until
// hold_until; an accrual journaled before holds existed waits for a
// decision (pending).
func Status(f Facts, today string) string {
	switch {
	case f.Declined:
		return StatusDeclined
	case f.Paid:
		return StatusPaid
	case f.Approved:
		return StatusApproved
	case f.HeldFor != "":
		return StatusHeld
	case f.HoldUntil == "":
		return StatusPending
	case today < f.HoldUntil: // YYYY-MM-DD orders as text
		return StatusHeld
	default:
		return StatusApproved
	}
}

// stampHolds sets hold_until on accruals just computed: the policy's
// effective date plus the hold_days of the rule set that paid them for the
// product line. From the policy, not a clock, so a replay stamps the same
// date and the same hashed bytes. A policy without a valid effective date
// gets none: its accruals are pending until someone decides, rather than
// the attribution being refused (the journal accepted it before holds).
func stampHolds(rs *RuleSet, p schemas.PolicyIssued, accrued []schemas.JournalEntry) {
	eff, err := time.Parse(time.DateOnly, p.EffectiveDate)
	if err != nil {
		return
	}
	until := eff.AddDate(0, 0, rs.HoldWindow(p.ProductLine)).Format(time.DateOnly)
	for i := range accrued {
		accrued[i].HoldUntil = until
	}
}

// namedHolds are the hold decisions the first matching hold rule of rs
// posts on each positive direct accrual among accrued and on the overrides
// derived from it (an upline's share of a held line is held with it).
// Pure, from the rules that paid: a replay posts the same holds.
func namedHolds(rs *RuleSet, env schemas.Envelope, p schemas.PolicyIssued, accrued []schemas.JournalEntry) ([]schemas.JournalEntry, error) {
	if len(rs.Holds) == 0 {
		return nil, nil
	}
	var out []schemas.JournalEntry
	for _, d := range accrued {
		if d.OverrideLevel > 0 || d.AmountMinor <= 0 {
			continue
		}
		payee := d.PayeeType + ":" + d.PayeeID
		ref := rs.Payees[payee]
		h, err := rs.MatchHold(Env{ProductLine: d.ProductLine, SaleType: d.SaleType, Currency: d.Currency, PremiumMinor: d.PremiumMinor,
			TermMonths: p.TermMonths, PartnerID: env.PartnerID, PayeeID: d.PayeeID, PayeeType: d.PayeeType, Payee: payee,
			Tier: ref.Tier, Region: ref.Region, WeightBP: d.WeightBP, FirstYear: p.SaleType == schemas.SaleNewBusiness,
			SelfReferral: selfReferral(p, d.PayeeID), InstallmentNumber: installmentNumber(p), InstallmentCount: installmentCount(p)})
		if err != nil {
			return nil, worker.Reject(CodeBadRule, "/payload/touchpoints", "%v", err)
		}
		if h == nil {
			continue
		}
		for _, a := range accrued {
			if a.EntryID == d.EntryID || a.OverrideLevel > 0 && a.SourceEntryID == d.EntryID {
				out = append(out, holdEntry(rs, h, a))
			}
		}
	}
	return out, nil
}

// holdEntry is hold rule h's decision on accrual a, in a's period; its id
// is the accrual's, so the hold is posted once.
func holdEntry(rs *RuleSet, h *HoldRule, a schemas.JournalEntry) schemas.JournalEntry {
	return schemas.JournalEntry{EntryID: entryID(schemas.EntryDecision, DecisionHold, a.EntryID), Kind: schemas.EntryDecision,
		PayeeID: a.PayeeID, PayeeType: a.PayeeType, Currency: a.Currency, Period: a.Period, Corrects: a.EntryID,
		CauseID: a.CauseID, AttributionID: a.AttributionID, AttributionVersion: a.AttributionVersion, PolicyID: a.PolicyID,
		PartnerID: a.PartnerID, LeadID: a.LeadID, RuleSetVersion: rs.Version, RuleID: h.ID,
		Decision: DecisionHold, Actor: "rule:" + h.ID + "@" + rs.Version, Reason: h.Reason,
		PayoutCurrency: a.PayoutCurrency, FXRate: a.FXRate, FXSource: a.FXSource, FXAsOf: a.FXAsOf}
}

// decisionKey marks a decision request as posted, so a resent request
// posts nothing. Scoped: request ids are the requester's.
func decisionKey(partition int32, partnerID, requestID string) worker.StateKey {
	return worker.StateKey{Partition: partition, Key: "decision:" + schemas.Scoped(partnerID, requestID)}
}

// decisionID: one decision entry per partner's request on the accrual it
// names; the overrides it covers get one each, named by their entry id.
func decisionID(partnerID, requestID, covered string) string {
	if covered == "" {
		return entryID(schemas.EntryDecision, schemas.Scoped(partnerID, requestID))
	}
	return entryID(schemas.EntryDecision, schemas.Scoped(partnerID, requestID), covered)
}

// declineReversalID: the reversal a declined accrual gets, once.
func declineReversalID(accrual, partnerID, requestID string) string {
	return entryID(schemas.EntryReversal, accrual, schemas.EntryDecision, schemas.Scoped(partnerID, requestID))
}

// decide posts an admin's decision (or a fraud rule's hold) on a standing
// accrual, once per request id: a decision entry and, for a decline, the
// reversal of what stands of the accrual. A decision on a direct accrual covers the
// override accruals derived from it (its uplines' shares of the same line)
// that still stand: an override declined on its own before is not
// approved again. A declined accrual leaves the policy's standing
// accruals, so no later version reverses it and no cancellation claws it
// again: its accrual, clawbacks and reversal sum to zero.
func (c *Calculator) decide(ctx context.Context, st *worker.StateTxn, part int32, env schemas.Envelope, req schemas.DecisionRequested) ([]schemas.JournalEntry, error) {
	if err := checkDecision(req); err != nil {
		return nil, err
	}
	key := decisionKey(part, env.PartnerID, req.RequestID)
	if _, posted, err := st.Get(ctx, key); err != nil || posted {
		return nil, err
	}
	p, _, err := c.load(ctx, st, part, req.AttributionID, env)
	if err != nil {
		return nil, err
	}
	targets := decided(p.Standing, req.EntryID, env.PartnerID)
	if len(targets) == 0 {
		return nil, worker.Reject(CodeBadDecision, "/payload/entry_id",
			"accrual %s of attribution %s does not stand (unknown, superseded, of 0 or declined already)", req.EntryID, req.AttributionID)
	}
	if req.Decision == DecisionHold {
		if err := holdable(ctx, st, part, env, p.Standing[targets[0]].Entry); err != nil {
			return nil, err
		}
	}
	var out []schemas.JournalEntry
	declined := map[string]bool{}
	for _, i := range targets {
		out = append(out, decisionEntry(env, req, p.Standing[i].Entry))
		if req.Decision != schemas.DecisionDecline {
			continue
		}
		declined[p.Standing[i].Entry.EntryID] = true
		if r, ok := declineReversal(env, req, p.Standing[i]); ok {
			out = append(out, r)
		}
	}
	if req.Decision == schemas.DecisionDecline {
		p.Standing = slices.DeleteFunc(slices.Clone(p.Standing), func(s standing) bool { return declined[s.Entry.EntryID] })
		if err := c.store(st, journalKey(part, req.AttributionID), p); err != nil {
			return nil, err
		}
	}
	st.Put(key, []byte(out[0].EntryID), c.Keep)
	return out, nil
}

// decided are the indexes in standing of the accrual entry of partner and,
// for a direct accrual, of the overrides standing on it, the accrual
// first; none when the accrual does not stand.
func decided(stand []standing, entry, partnerID string) []int {
	i := slices.IndexFunc(stand, func(s standing) bool { return s.Entry.EntryID == entry && s.Entry.PartnerID == partnerID })
	if i < 0 {
		return nil
	}
	out := []int{i}
	if stand[i].Entry.OverrideLevel > 0 {
		return out
	}
	for j, s := range stand {
		if s.Entry.OverrideLevel > 0 && s.Entry.SourceEntryID == entry {
			out = append(out, j)
		}
	}
	return out
}

// checkDecision refuses a request that cannot be posted; every problem at once.
func checkDecision(req schemas.DecisionRequested) error {
	var missing []string
	for _, f := range []struct{ name, v string }{{"request_id", req.RequestID}, {"entry_id", req.EntryID},
		{"attribution_id", req.AttributionID}, {"actor", req.Actor}, {"reason", req.Reason}} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	var errs []string
	if len(missing) > 0 {
		errs = append(errs, "without "+strings.Join(missing, ", "))
	}
	switch req.Decision {
	case schemas.DecisionApprove, schemas.DecisionDecline, schemas.DecisionHold:
	default:
		errs = append(errs, fmt.Sprintf("decision %q: want %s, %s or %s", req.Decision, schemas.DecisionApprove, schemas.DecisionDecline, schemas.DecisionHold))
	}
	if len(errs) > 0 {
		return worker.Reject(CodeBadDecision, "/payload", "decision request %s: %s", req.RequestID, strings.Join(errs, "; "))
	}
	return nil
}

// holdable refuses a requested hold on an accrual its hold_until released
// into a period before the one the hold posts in (the request's, or the
// first open one after it): statements pay an accrual in the period it is
// released in and a hold un-releases it, so a late hold would change a
// statement that may be delivered, in a period that may be closed. Months
// order as text. The accrual's period here is the one it was computed in,
// never later than the one it was posted in, so this errs on refusing.
func holdable(ctx context.Context, st *worker.StateTxn, part int32, env schemas.Envelope, a schemas.JournalEntry) error {
	if a.HoldUntil == "" {
		return nil // pending: never released without a decision
	}
	posts, err := openPeriod(ctx, st, part, env.PartnerID, periodOf(env))
	if err != nil {
		return err
	}
	if released := max(a.Period, a.HoldUntil[:min(len(a.HoldUntil), len("2006-01"))]); released < posts {
		return worker.Reject(CodeBadDecision, "/payload/entry_id",
			"hold on accrual %s: released in %s by its hold_until %s, before %s the hold posts in", a.EntryID, released, a.HoldUntil, posts)
	}
	return nil
}

// openPeriod is period, or the first period after it open for partnerID
// on partition part: where postOpen will post an entry of that period.
func openPeriod(ctx context.Context, st *worker.StateTxn, part int32, partnerID, period string) (string, error) {
	closed := map[string]bool{}
	for _, p := range []string{partnerID, schemas.AllPartners} {
		ps, err := closedPeriods(ctx, st, closedKey(part, p))
		if err != nil {
			return "", err
		}
		for _, c := range ps {
			closed[c] = true
		}
	}
	return firstOpen(period, closed), nil
}

// decisionEntry records the decision on accrual a (the one requested, or
// an override it covers): amount 0, so balances stay sums of entries, in
// the period of the request.
func decisionEntry(env schemas.Envelope, req schemas.DecisionRequested, a schemas.JournalEntry) schemas.JournalEntry {
	id := decisionID(env.PartnerID, req.RequestID, "")
	if a.EntryID != req.EntryID {
		id = decisionID(env.PartnerID, req.RequestID, a.EntryID)
	}
	return schemas.JournalEntry{EntryID: id, Kind: schemas.EntryDecision,
		PayeeID: a.PayeeID, PayeeType: a.PayeeType, Currency: a.Currency, Period: periodOf(env), Corrects: a.EntryID,
		CauseID: req.RequestID, AttributionID: a.AttributionID, AttributionVersion: a.AttributionVersion, PolicyID: a.PolicyID,
		PartnerID: a.PartnerID, LeadID: a.LeadID, Decision: req.Decision, Actor: req.Actor, Reason: req.Reason,
		PayoutCurrency: a.PayoutCurrency, FXRate: a.FXRate, FXSource: a.FXSource, FXAsOf: a.FXAsOf}
}

// declineReversal takes back what stands of a declined accrual (its
// amount less what cancellations hold clawed); none when nothing stands.
func declineReversal(env schemas.Envelope, req schemas.DecisionRequested, s standing) (schemas.JournalEntry, bool) {
	left := s.Entry.AmountMinor - s.Clawed
	if left == 0 {
		return schemas.JournalEntry{}, false
	}
	r := s.Entry
	r.EntryID, r.Kind, r.AmountMinor, r.Corrects = declineReversalID(s.Entry.EntryID, env.PartnerID, req.RequestID), schemas.EntryReversal, -left, s.Entry.EntryID
	r.PayoutAmountMinor = payoutDelta(s.Entry, left, 0)
	r.Period, r.CauseID, r.Actor, r.Reason = periodOf(env), req.RequestID, req.Actor, req.Reason
	return r, true
}
