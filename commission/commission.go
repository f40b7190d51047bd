package commission

import (
	"context"
	"fmt"
	"math/big"
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

// Calculator is the stage's Processor. Rules is swapped atomically by the
// reloader; a batch reads it once, so one batch never mixes rule sets.
type Calculator struct {
	Rules   atomic.Pointer[RuleSet]
	Redis   redis.UniversalClient
	Prefix  string
	Keep    time.Duration // how long paid lines are remembered for clawbacks
	Metrics *Metrics
}

// paid is what is remembered of an attribution's lines for clawbacks.
type paid struct {
	Version        int64                          `json:"version"`
	RuleSetVersion string                         `json:"rule_set_version"`
	Policy         schemas.PolicyIssued           `json:"policy"`
	Lines          []schemas.CommissionCalculated `json:"lines"`
	LineIDs        []string                       `json:"line_ids"`
}

// ProcessBatch implements worker.Processor: attributions become lines (and
// their record is stored in Redis), then cancellations read those records
// back and become clawback lines. Both Redis round trips are pipelined.
func (c *Calculator) ProcessBatch(ctx context.Context, batch []worker.Message) ([]worker.Result, error) {
	rs := c.Rules.Load()
	results := make([]worker.Result, len(batch))
	type cancel struct {
		i   int
		env schemas.Envelope
		att schemas.AttributionCancelled
		cmd *redis.StringCmd
	}
	var cancels []cancel
	write := c.Redis.Pipeline()
	for i, m := range batch {
		var env schemas.Envelope
		if err := schemas.Decode(m.Value, &env); err != nil {
			results[i].Err = worker.Reject(CodeUndecodable, "", "not an event envelope: %v", err)
			continue
		}
		switch env.EventType {
		case schemas.TypeAttributionCancelled:
			var a schemas.AttributionCancelled
			if err := schemas.Decode(env.Payload, &a); err != nil {
				results[i].Err = worker.Reject(CodeUndecodable, "/payload", "%v", err)
				continue
			}
			cancels = append(cancels, cancel{i: i, env: env, att: a})
		case schemas.TypeAttributionCalculated:
			var att schemas.AttributionCalculated
			if err := schemas.Decode(env.Payload, &att); err != nil {
				results[i].Err = worker.Reject(CodeUndecodable, "/payload", "%v", err)
				continue
			}
			lines, err := Lines(rs, env, att)
			if err != nil {
				results[i].Err = err
				continue
			}
			p := paid{Version: att.Version, RuleSetVersion: rs.Version, Policy: att.Policy}
			for _, l := range lines {
				var cl schemas.CommissionCalculated
				_ = schemas.Decode(l.Payload, &cl) // produced just above by schemas.Encode
				p.Lines, p.LineIDs = append(p.Lines, cl), append(p.LineIDs, l.EventID)
			}
			b, _ := schemas.Encode(p)
			// Keyed by the attribution id alone: attribute derives it from
			// the partner and the policy event id, so it is tenant-unique,
			// and so are the line ids derived from it.
			write.Set(ctx, c.Prefix+"paid:"+env.EventID, b, c.Keep)
			if results[i].Out, err = outputs(lines); err != nil {
				return nil, err
			}
		default:
			results[i].Err = worker.Reject(CodeUndecodable, "/event_type", "unexpected event type %q", env.EventType)
		}
	}
	if len(write.Cmds()) > 0 {
		if _, err := write.Exec(ctx); err != nil {
			return nil, fmt.Errorf("remember paid lines: %w", err)
		}
	}
	if len(cancels) == 0 {
		return results, nil
	}
	read := c.Redis.Pipeline()
	for j := range cancels {
		cancels[j].cmd = read.Get(ctx, c.Prefix+"paid:"+cancels[j].att.AttributionID)
	}
	if _, err := read.Exec(ctx); err != nil && err != redis.Nil {
		return nil, fmt.Errorf("read paid lines: %w", err)
	}
	for _, cn := range cancels {
		b, err := cn.cmd.Bytes()
		if err == redis.Nil {
			c.Metrics.clawbackUnknown.Inc() // never paid, or paid before --keep
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read paid lines of %s: %w", cn.att.AttributionID, err)
		}
		var p paid
		if err := schemas.Decode(b, &p); err != nil {
			return nil, fmt.Errorf("decode paid lines of %s: %w", cn.att.AttributionID, err)
		}
		lines, err := Clawbacks(rs, cn.env, cn.att, p)
		if err != nil {
			results[cn.i].Err = err
			continue
		}
		if results[cn.i].Out, err = outputs(lines); err != nil {
			return nil, err
		}
	}
	return results, nil
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
// commission is the sum of these lines. Payees with no credit get a zero line
// so a corrected attribution overwrites all of an earlier version's lines.
// Then each positive line pays the configured override percents up the
// payee's upline chain, as extra lines.
func Lines(rs *RuleSet, env schemas.Envelope, att schemas.AttributionCalculated) ([]schemas.Envelope, error) {
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
	var out []schemas.Envelope
	add := func(l schemas.CommissionCalculated, idParts ...string) (string, error) {
		id := uuid.NewSHA1(lineSpace, []byte(strings.Join(idParts, "|"))).String()
		e, err := lineEnvelope(env, id, l)
		out = append(out, e)
		return id, err
	}
	for _, d := range directs {
		typ, id, _ := strings.Cut(d.share.Payee, ":")
		l := base
		l.PayeeID, l.PayeeType, l.WeightBP, l.AmountMinor, l.RuleID, l.Kind = id, typ, d.share.WeightBP, d.amount, d.rule, KindCommission
		lineID, err := add(l, env.EventID, d.share.Payee)
		if err != nil {
			return nil, err
		}
		up := rs.Payees[d.share.Payee].Upline
		for level := 0; level < len(rs.overrides) && up != "" && d.amount > 0; level++ {
			o := base
			o.PayeeType, o.PayeeID, _ = strings.Cut(up, ":")
			o.AmountMinor = PercentOf(d.amount, rs.overrides[level])
			o.RuleID, o.Kind, o.SourceLineID = fmt.Sprintf("override:%d", level+1), KindOverride, lineID
			if _, err := add(o, env.EventID, d.share.Payee, "override", up); err != nil {
				return nil, err
			}
			up = rs.Payees[up].Upline
		}
	}
	return out, nil
}

// Clawbacks reverses, pro rata to the unearned part of the term, the lines
// paid for a policy cancelled inside its product line's chargeback window.
// Outside the window, or with nothing left unearned, it returns nothing.
func Clawbacks(rs *RuleSet, env schemas.Envelope, c schemas.AttributionCancelled, p paid) ([]schemas.Envelope, error) {
	eff, err1 := time.Parse("2006-01-02", p.Policy.EffectiveDate)
	cancelled, err2 := time.Parse("2006-01-02", c.CancelledOn)
	if err1 != nil || err2 != nil {
		return nil, worker.Reject(CodeBadDates, "/payload/cancelled_on", "effective %q, cancelled %q", p.Policy.EffectiveDate, c.CancelledOn)
	}
	end := eff.AddDate(0, p.Policy.TermMonths, 0)
	termDays := int64(end.Sub(eff).Hours() / 24)
	unearned := int64(end.Sub(cancelled).Hours() / 24)
	window := rs.ChargebackWindow(p.Policy.ProductLine)
	if cancelled.After(eff.AddDate(0, 0, window)) || unearned <= 0 || termDays <= 0 {
		return nil, nil
	}
	unearned = min(unearned, termDays)
	var out []schemas.Envelope
	for i, l := range p.Lines {
		if l.AmountMinor == 0 {
			continue
		}
		cl := l
		cl.AmountMinor = -proRata(l.AmountMinor, unearned, termDays)
		cl.Kind, cl.RuleID, cl.SourceLineID = KindClawback, "clawback", p.LineIDs[i]
		id := uuid.NewSHA1(lineSpace, []byte(env.EventID+"|clawback|"+p.LineIDs[i])).String()
		e, err := lineEnvelope(env, id, cl)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
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
