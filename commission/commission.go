package commission

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/money"
)

// Reason codes for attributions that cannot be paid.
const (
	CodeUndecodable = "undecodable_attribution"
	CodeNoRule      = "no_matching_rule"
	CodeBadPremium  = "invalid_premium"
	CodeBadWeights  = "weights_not_10000"
)

// lineSpace namespaces commission line ids.
var lineSpace = uuid.MustParse("3f1e5d2a-9b7c-4f60-8e41-0d2c7a9b5e33")

// Calculator is the stage function. Rules is swapped atomically so a reload
// never changes the rules under a record half-way through.
type Calculator struct {
	Rules atomic.Pointer[RuleSet]
}

// Process implements worker.Func: one attribution in, one line per payee out.
func (c *Calculator) Process(_ context.Context, m worker.Message) ([]worker.Output, error) {
	var env schemas.Envelope
	var att schemas.AttributionCalculated
	if err := json.Unmarshal(m.Value, &env); err != nil {
		return nil, worker.Reject(CodeUndecodable, "", "not an event envelope: %v", err)
	}
	if err := json.Unmarshal(env.Payload, &att); err != nil {
		return nil, worker.Reject(CodeUndecodable, "/payload", "%v", err)
	}
	lines, err := Lines(c.Rules.Load(), env, att)
	if err != nil {
		return nil, err
	}
	outs := make([]worker.Output, len(lines))
	for i, l := range lines {
		v, err := json.Marshal(l)
		if err != nil {
			return nil, fmt.Errorf("encode commission line: %w", err)
		}
		outs[i] = worker.Output{Topic: schemas.TopicCommissions, Key: []byte(env.LeadID), Value: v}
	}
	return outs, nil
}

// Lines computes the commission lines of one attribution. It is pure: the
// same rules and attribution always give the same lines, ids included.
func Lines(rs *RuleSet, env schemas.Envelope, att schemas.AttributionCalculated) ([]schemas.Envelope, error) {
	p := att.Policy
	premium, err := money.ParseMinor(p.AnnualPremium, p.Currency)
	if err != nil {
		return nil, worker.Reject(CodeBadPremium, "/payload/policy/annual_premium", "%v", err)
	}
	// Merge touches by payee: one referrer touching twice is paid once.
	// Payees with no credit keep a zero line, so that a corrected attribution
	// overwrites whatever an earlier version paid them.
	weights := map[string]int{}
	types := map[string]schemas.Referrer{}
	total := 0
	for _, tp := range att.Touchpoints {
		w := tp.Weights[att.PaidModel]
		total += w
		key := tp.ReferrerType + ":" + tp.ReferrerID
		weights[key] += w
		types[key] = schemas.Referrer{ID: tp.ReferrerID, Type: tp.ReferrerType}
	}
	if len(att.Touchpoints) == 0 {
		return nil, nil // unattributed: nobody to pay, counted by attribute
	}
	if total != 10_000 {
		return nil, worker.Reject(CodeBadWeights, "/payload/touchpoints", "model %s weights sum to %d", att.PaidModel, total)
	}
	rule, ok := rs.Match(p.ProductLine, p.SaleType)
	if !ok {
		return nil, worker.Reject(CodeNoRule, "/payload/policy", "rule set %s has no rule for %s/%s", rs.Version, p.ProductLine, p.SaleType)
	}
	policyCommission := rule.Commission(premium)
	shares := make([]Share, 0, len(weights))
	for k, w := range weights {
		shares = append(shares, Share{Payee: k, WeightBP: w})
	}
	sort.Slice(shares, func(i, j int) bool { return shares[i].Payee < shares[j].Payee })
	amounts := Split(policyCommission, shares)

	out := make([]schemas.Envelope, len(shares))
	for i, s := range shares {
		payee := types[s.Payee]
		line := schemas.CommissionCalculated{
			AttributionID: env.EventID, AttributionVersion: att.Version, PolicyID: p.PolicyID, PayeeID: payee.ID, PayeeType: payee.Type,
			ProductLine: p.ProductLine, SaleType: p.SaleType, Currency: p.Currency, PremiumMinor: premium,
			PolicyCommission: policyCommission, WeightBP: s.WeightBP, AmountMinor: amounts[i],
			RuleSetVersion: rs.Version, RuleID: rule.ID, Model: att.PaidModel,
		}
		payload, err := json.Marshal(line)
		if err != nil {
			return nil, fmt.Errorf("encode line: %w", err)
		}
		out[i] = schemas.Envelope{
			EventID:       uuid.NewSHA1(lineSpace, []byte(env.EventID+"|"+s.Payee)).String(),
			EventType:     schemas.TypeCommissionCalculated,
			SchemaVersion: 1,
			OccurredAt:    env.OccurredAt,
			ReceivedAt:    env.ReceivedAt,
			PartnerID:     env.PartnerID,
			LeadID:        env.LeadID,
			Payload:       payload,
		}
	}
	return out, nil
}
