package commission

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/money"
)

// Reason codes for attributions that cannot be paid.
const (
	CodeUndecodable = "undecodable_attribution"
	CodeNoRule      = "no_matching_rule"
	CodeBadRule     = "rule_failed"
	CodeBadPremium  = "invalid_premium"
	CodeBadWeights  = "weights_not_10000"
	CodeBadDates    = "invalid_policy_dates"
)

// Line kinds.
const (
	KindCommission = "commission"
	KindOverride   = "override"
	KindClawback   = "clawback"
)

// lineSpace namespaces commission line ids.
var lineSpace = uuid.MustParse("3f1e5d2a-9b7c-4f60-8e41-0d2c7a9b5e33")

// Calculator is the stage's Processor, a worker.Stateful: what it paid is
// state (see paid) kept through the runtime's worker.State. Rules is swapped
// atomically by the reloader; a batch reads it once, so one batch never
// mixes rule sets.
type Calculator struct {
	Rules   atomic.Pointer[RuleSet]
	Redis   redis.UniversalClient // the state's working copy (StateBackend)
	Prefix  string
	Keep    time.Duration // how long paid state is remembered (--keep-paid)
	Metrics *Metrics
}

var _ worker.Stateful = (*Calculator)(nil)

// paid is what is remembered of an attribution's lines, under
// paidKey(attribution id) in the input partition of its lead: enough to
// restate them when a new version supersedes them and to claw them back
// under the rules that paid them.
type paid struct {
	Version        int64  `json:"version"`
	RuleSetVersion string `json:"rule_set_version"`
	// ChargebackDays is the paying rule set's window for the product
	// line: a later rule set must not widen or narrow what was agreed.
	ChargebackDays int                  `json:"chargeback_days"`
	Policy         schemas.PolicyIssued `json:"policy"`
	// Lines are every line id ever written for the attribution, the
	// superseded ones at amount 0, so that each version can restate all
	// of them.
	Lines []paidLine `json:"lines"`
}

type paidLine struct {
	ID   string                       `json:"id"`
	Line schemas.CommissionCalculated `json:"line"`
	// ClawedBack is how much of the line cancellations have taken back
	// (positive minor units): a later cancellation takes only the rest.
	ClawedBack int64 `json:"clawed_back_minor,omitempty"`
}

func paidKey(partition int32, attributionID string) worker.StateKey {
	// The attribution id alone: attribute derives it from the partner and
	// the policy, so it is tenant-unique, and so are the line ids.
	return worker.StateKey{Partition: partition, Key: "paid:" + attributionID}
}

// StateBackend implements worker.Stateful.
func (c *Calculator) StateBackend() (redis.UniversalClient, string) { return c.Redis, c.Prefix }

// ProcessBatch exists for worker.Processor only: what was paid is state, so
// the runtime calls ProcessState.
func (c *Calculator) ProcessBatch(context.Context, []worker.Message) ([]worker.Result, error) {
	return nil, errors.New("commission is stateful: the runtime calls ProcessState")
}

// event is one decoded input record: an attribution or its cancellation.
type event struct {
	env    schemas.Envelope
	att    *schemas.AttributionCalculated
	cancel *schemas.AttributionCancelled
}

func (e *event) attributionID() string {
	if e.cancel != nil {
		return e.cancel.AttributionID
	}
	return e.env.EventID
}

// decodeEvent decodes a record of the attributions topic; the error is a
// permanent rejection.
func decodeEvent(value []byte) (*event, error) {
	var e event
	if err := schemas.Decode(value, &e.env); err != nil {
		return nil, worker.Reject(CodeUndecodable, "", "not an event envelope: %v", err)
	}
	var err error
	switch e.env.EventType {
	case schemas.TypeAttributionCalculated:
		e.att = &schemas.AttributionCalculated{}
		err = schemas.Decode(e.env.Payload, e.att)
	case schemas.TypeAttributionCancelled:
		e.cancel = &schemas.AttributionCancelled{}
		err = schemas.Decode(e.env.Payload, e.cancel)
	default:
		return nil, worker.Reject(CodeUndecodable, "/event_type", "unexpected event type %q", e.env.EventType)
	}
	if err != nil {
		return nil, worker.Reject(CodeUndecodable, "/payload", "%v", err)
	}
	return &e, nil
}

// ProcessState implements worker.Stateful: attributions become lines and
// their paid state, cancellations read it back and become clawback lines,
// in record order, so records of one lead in one batch chain through the
// batch's own writes. Every key is read in one round trip first.
func (c *Calculator) ProcessState(ctx context.Context, st *worker.StateTxn, batch []worker.Message) ([]worker.Result, error) {
	rs := c.Rules.Load()
	results := make([]worker.Result, len(batch))
	events := make([]*event, len(batch))
	keys := make([]worker.StateKey, 0, len(batch))
	for i, m := range batch {
		e, err := decodeEvent(m.Value)
		if err != nil {
			results[i].Err = err
			continue
		}
		events[i] = e
		keys = append(keys, paidKey(m.Partition, e.attributionID()))
	}
	if err := st.Prefetch(ctx, keys...); err != nil {
		return nil, fmt.Errorf("read paid state: %w", err)
	}
	for i, e := range events {
		if e == nil {
			continue
		}
		key := paidKey(batch[i].Partition, e.attributionID())
		var err error
		if e.att != nil {
			results[i], err = c.accrue(ctx, st, key, rs, e.env, *e.att)
		} else {
			results[i], err = c.clawBack(ctx, st, key, e.env, *e.cancel)
		}
		if err != nil {
			return nil, err
		}
	}
	return results, nil
}

// accrue pays one attribution version and restates, at 0, every line of
// the version before it that this one no longer produces.
func (c *Calculator) accrue(ctx context.Context, st *worker.StateTxn, key worker.StateKey, rs *RuleSet, env schemas.Envelope, att schemas.AttributionCalculated) (worker.Result, error) {
	prev, _, err := c.load(ctx, st, key)
	if err != nil {
		return worker.Result{}, err
	}
	computed, err := lines(rs, env, att)
	if err != nil {
		return worker.Result{Err: err}, nil
	}
	next := supersede(prev, computed, att.Version)
	out, err := envelopes(env, next.Lines)
	if err != nil {
		return worker.Result{}, err
	}
	next.Version, next.RuleSetVersion, next.Policy = att.Version, rs.Version, att.Policy
	next.ChargebackDays = rs.ChargebackWindow(att.Policy.ProductLine)
	if err := c.store(st, key, next); err != nil {
		return worker.Result{}, err
	}
	res, err := outputs(out)
	return worker.Result{Out: res}, err
}

// clawBack claws back, for one cancellation, what it newly makes unearned.
func (c *Calculator) clawBack(ctx context.Context, st *worker.StateTxn, key worker.StateKey, env schemas.Envelope, cn schemas.AttributionCancelled) (worker.Result, error) {
	p, ok, err := c.load(ctx, st, key)
	if err != nil {
		return worker.Result{}, err
	}
	if !ok {
		c.Metrics.clawbackUnknown.Inc() // never paid, or paid before --keep-paid
		return worker.Result{}, nil
	}
	lines, after, err := Clawbacks(env, cn, p)
	if err != nil {
		return worker.Result{Err: err}, nil
	}
	if len(lines) == 0 {
		return worker.Result{}, nil
	}
	if err := c.store(st, key, after); err != nil {
		return worker.Result{}, err
	}
	res, err := outputs(lines)
	return worker.Result{Out: res}, err
}

func (c *Calculator) load(ctx context.Context, st *worker.StateTxn, key worker.StateKey) (paid, bool, error) {
	b, ok, err := st.Get(ctx, key)
	if err != nil || !ok {
		return paid{}, false, err
	}
	var p paid
	if err := schemas.Decode(b, &p); err != nil {
		return paid{}, false, fmt.Errorf("decode paid state %s: %w", key.Key, err)
	}
	return p, true, nil
}

func (c *Calculator) store(st *worker.StateTxn, key worker.StateKey, p paid) error {
	b, err := schemas.Encode(p)
	if err != nil {
		return fmt.Errorf("encode paid state %s: %w", key.Key, err)
	}
	st.Put(key, b, c.Keep)
	return nil
}

// supersede returns the lines of a new version: lines as computed, each
// keeping what was clawed back of it, then every earlier line the version
// does not produce again at amount 0 (rule "superseded"), so that restating
// by line id leaves nothing of the earlier version standing.
func supersede(prev paid, lines []paidLine, version int64) paid {
	clawed := make(map[string]int64, len(prev.Lines))
	for _, l := range prev.Lines {
		clawed[l.ID] = l.ClawedBack
	}
	var policyCommission int64
	next := paid{Lines: make([]paidLine, 0, max(len(lines), len(prev.Lines)))}
	for _, l := range lines {
		l.ClawedBack = clawed[l.ID]
		delete(clawed, l.ID)
		next.Lines = append(next.Lines, l)
		policyCommission = l.Line.PolicyCommission
	}
	for _, l := range prev.Lines {
		if _, gone := clawed[l.ID]; !gone {
			continue
		}
		l.Line.AttributionVersion, l.Line.AmountMinor, l.Line.WeightBP = version, 0, 0
		l.Line.RuleID, l.Line.PolicyCommission = "superseded", policyCommission
		next.Lines = append(next.Lines, l)
	}
	return next
}

func outputs(lines []schemas.Envelope) ([]worker.Output, error) {
	outs := make([]worker.Output, len(lines))
	for i, l := range lines {
		v, err := schemas.Encode(l)
		if err != nil {
			return nil, fmt.Errorf("encode commission line: %w", err)
		}
		outs[i] = worker.Output{Topic: schemas.TopicCommissions, Key: schemas.LeadKey(l.PartnerID, l.LeadID), Value: v}
	}
	return outs, nil
}

// Lines computes the commission lines of one attribution. It is pure: the
// same rules and attribution always give the same lines, ids included.
//
// The premium is split by the paid model's weights exactly (Split: floors,
// then largest remainders, ties to the smaller payee key), and each payee's
// share is commissioned under the first rule that matches that payee, so
// rates can depend on the payee's type, tier and region. The policy
// commission is the sum of these lines. Payees with no credit get a zero
// line. Then each positive line pays the configured override percents up the
// payee's upline chain, as extra lines. Lines knows nothing of earlier
// versions: restating their lines that this one does not produce is
// ProcessState's, from the paid state (see supersede).
func Lines(rs *RuleSet, env schemas.Envelope, att schemas.AttributionCalculated) ([]schemas.Envelope, error) {
	ls, err := lines(rs, env, att)
	if err != nil {
		return nil, err
	}
	return envelopes(env, ls)
}

// lines is Lines before the lines become envelopes.
func lines(rs *RuleSet, env schemas.Envelope, att schemas.AttributionCalculated) ([]paidLine, error) {
	p := att.Policy
	premium, err := money.ParseMinor(p.AnnualPremium, p.Currency)
	if err != nil {
		return nil, worker.Reject(CodeBadPremium, "/payload/policy/annual_premium", "%v", err)
	}
	if len(att.Touchpoints) == 0 {
		return nil, nil // unattributed: nobody to pay, counted by attribute
	}
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
	premiumShares := Split(premium, shares)

	type direct struct {
		share  Share
		amount int64
		rule   string
	}
	directs := make([]direct, len(shares))
	var policyCommission int64
	for i, s := range shares {
		d := direct{share: s, rule: "no_credit"}
		if s.WeightBP > 0 {
			typ, id, _ := strings.Cut(s.Payee, ":")
			ref := rs.Payees[s.Payee]
			e := Env{ProductLine: p.ProductLine, SaleType: p.SaleType, Currency: p.Currency, PremiumMinor: premium,
				TermMonths: p.TermMonths, PartnerID: env.PartnerID, PayeeID: id, PayeeType: typ, Tier: ref.Tier,
				Region: ref.Region, WeightBP: s.WeightBP, FirstYear: p.SaleType == schemas.SaleNewBusiness}
			rule, err := rs.Match(e)
			if err != nil {
				return nil, worker.Reject(CodeBadRule, "/payload/policy", "%v", err)
			}
			if rule == nil {
				return nil, worker.Reject(CodeNoRule, "/payload/policy", "rule set %s has no rule for %s %s/%s", rs.Version, s.Payee, p.ProductLine, p.SaleType)
			}
			amt, err := rule.Amount.Pay(premiumShares[i], p.Currency)
			if err != nil {
				return nil, worker.Reject(CodeBadRule, "/payload/policy", "rule %q: %v", rule.ID, err)
			}
			d.amount, d.rule = amt, rule.ID
		}
		directs[i] = d
		policyCommission += d.amount
	}

	base := schemas.CommissionCalculated{
		AttributionID: env.EventID, AttributionVersion: att.Version, PolicyID: p.PolicyID, ProductLine: p.ProductLine,
		SaleType: p.SaleType, Currency: p.Currency, PremiumMinor: premium, PolicyCommission: policyCommission,
		RuleSetVersion: rs.Version, Model: att.PaidModel,
	}
	var out []paidLine
	add := func(l schemas.CommissionCalculated, idParts ...string) string {
		id := uuid.NewSHA1(lineSpace, []byte(strings.Join(idParts, "|"))).String()
		out = append(out, paidLine{ID: id, Line: l})
		return id
	}
	for _, d := range directs {
		typ, id, _ := strings.Cut(d.share.Payee, ":")
		l := base
		l.PayeeID, l.PayeeType, l.WeightBP, l.AmountMinor, l.RuleID, l.Kind = id, typ, d.share.WeightBP, d.amount, d.rule, KindCommission
		lineID := add(l, env.EventID, d.share.Payee)
		up := rs.Payees[d.share.Payee].Upline
		for level := 0; level < len(rs.overrides) && up != "" && d.amount > 0; level++ {
			o := base
			o.PayeeType, o.PayeeID, _ = strings.Cut(up, ":")
			o.AmountMinor = PercentOf(d.amount, rs.overrides[level])
			o.RuleID, o.Kind, o.SourceLineID = fmt.Sprintf("override:%d", level+1), KindOverride, lineID
			add(o, env.EventID, d.share.Payee, "override", up)
			up = rs.Payees[up].Upline
		}
	}
	return out, nil
}

// Clawbacks claws back, for cancellation c, what it newly makes unearned of
// the lines p paid: per line, its pro rata share for the unearned part of
// the term less what earlier cancellations took, so a repeated cancellation
// takes nothing, an earlier date takes the difference, and no line gives
// back more than it paid. The window is the one of the rule set that paid
// (p.ChargebackDays), counted from the effective date. It returns the
// clawback lines and p with them recorded; it is pure.
func Clawbacks(env schemas.Envelope, c schemas.AttributionCancelled, p paid) ([]schemas.Envelope, paid, error) {
	unearned, term, err := unearnedDays(p, c.CancelledOn)
	if err != nil || unearned == 0 {
		return nil, p, err
	}
	after := p
	after.Lines = slices.Clone(p.Lines)
	var out []schemas.Envelope
	for i, pl := range after.Lines {
		if pl.Line.AmountMinor <= 0 {
			continue
		}
		due := proRata(pl.Line.AmountMinor, unearned, term) - pl.ClawedBack
		if due <= 0 {
			continue
		}
		after.Lines[i].ClawedBack += due
		cl := pl.Line
		cl.AmountMinor = -due
		cl.Kind, cl.RuleID, cl.SourceLineID = KindClawback, "clawback", pl.ID
		id := uuid.NewSHA1(lineSpace, []byte(env.EventID+"|clawback|"+pl.ID)).String()
		e, err := lineEnvelope(env, id, cl)
		if err != nil {
			return nil, p, err
		}
		out = append(out, e)
	}
	return out, after, nil
}

// unearnedDays is how many days of the policy's term a cancellation on
// cancelledOn leaves unearned (0 outside the window, or with nothing left),
// and the term in days.
func unearnedDays(p paid, cancelledOn string) (unearned, term int64, err error) {
	eff, err1 := time.Parse("2006-01-02", p.Policy.EffectiveDate)
	cancelled, err2 := time.Parse("2006-01-02", cancelledOn)
	if err1 != nil || err2 != nil {
		return 0, 0, worker.Reject(CodeBadDates, "/payload/cancelled_on", "effective %q, cancelled %q", p.Policy.EffectiveDate, cancelledOn)
	}
	end := eff.AddDate(0, p.Policy.TermMonths, 0)
	term = int64(end.Sub(eff).Hours() / 24)
	unearned = int64(end.Sub(cancelled).Hours() / 24)
	if cancelled.After(eff.AddDate(0, 0, p.ChargebackDays)) || unearned <= 0 || term <= 0 {
		return 0, term, nil
	}
	return min(unearned, term), term, nil
}

// proRata is v × num/den rounded half away from zero.
func proRata(v, num, den int64) int64 {
	n := new(big.Int).Mul(big.NewInt(v), big.NewInt(num))
	q, m := new(big.Int).QuoRem(n, big.NewInt(den), new(big.Int))
	if new(big.Int).Abs(new(big.Int).Mul(m, big.NewInt(2))).Cmp(big.NewInt(den)) >= 0 {
		q.Add(q, big.NewInt(int64(n.Sign())))
	}
	return q.Int64()
}

// envelopes are lines as commission.calculated events of src's lead.
func envelopes(src schemas.Envelope, lines []paidLine) ([]schemas.Envelope, error) {
	out := make([]schemas.Envelope, len(lines))
	for i, l := range lines {
		var err error
		if out[i], err = lineEnvelope(src, l.ID, l.Line); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func lineEnvelope(src schemas.Envelope, id string, l schemas.CommissionCalculated) (schemas.Envelope, error) {
	payload, err := schemas.Encode(l)
	if err != nil {
		return schemas.Envelope{}, fmt.Errorf("encode line: %w", err)
	}
	return schemas.Envelope{
		EventID: id, EventType: schemas.TypeCommissionCalculated, SchemaVersion: 1,
		OccurredAt: src.OccurredAt, ReceivedAt: src.ReceivedAt, PartnerID: src.PartnerID, LeadID: src.LeadID,
		Payload: payload,
	}, nil
}
