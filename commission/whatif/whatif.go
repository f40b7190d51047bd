// Package whatif replays a period's attributions under a candidate rule set
// and compares what each payee would be paid with what was paid, so the
// business can see a rule change before publishing it.
package whatif

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/reftrack/reftrack/commission"
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/money"
)

// Row is one attributions row (a touchpoint under one model).
type Row struct {
	AttributionID, PartnerID, LeadID, PolicyID, ProductLine, SaleType, Currency string
	Version, PremiumMinor                                                       int64
	TermMonths                                                                  uint16
	ConvertedAt                                                                 time.Time
	Model                                                                       string
	Paid                                                                        uint8
	TouchEventID, ReferrerID, ReferrerType                                      string
	WeightBP                                                                    uint16
	// The policy terms licences, appointments and FX read (migration
	// 0013): '' and 0 on rows written before, priced unchecked.
	Jurisdiction, Carrier, EffectiveDate string
	ReceivedAtMs                         uint64 // of the attribution; 0: unknown, its converted_at stands in
	// The installment of an installment sale (migration 0014), 0 for
	// others: commission prices it on its own premium and number.
	InstallmentNumber, InstallmentCount uint16
	InstallmentPremiumMinor             int64
}

// Attributions rebuilds the attribution events behind rows, in id order.
func Attributions(rows []Row) ([]schemas.Envelope, []schemas.AttributionCalculated, error) {
	type acc struct {
		env     schemas.Envelope
		att     schemas.AttributionCalculated
		touches map[string]*schemas.Touchpoint
		order   []string
	}
	byID := map[string]*acc{}
	for _, r := range rows {
		a := byID[r.AttributionID]
		if a == nil {
			premium, err := money.FormatMinor(r.PremiumMinor, r.Currency)
			if err != nil {
				return nil, nil, fmt.Errorf("attribution %s: %w", r.AttributionID, err)
			}
			a = &acc{touches: map[string]*schemas.Touchpoint{}}
			a.env = schemas.Envelope{EventID: r.AttributionID, EventType: schemas.TypeAttributionCalculated, SchemaVersion: 1,
				OccurredAt: r.ConvertedAt, PartnerID: r.PartnerID, LeadID: r.LeadID}
			if r.ReceivedAtMs > 0 {
				received := time.UnixMilli(int64(r.ReceivedAtMs)).UTC()
				a.env.ReceivedAt = &received // the FX rate is the one as of it
			}
			a.att = schemas.AttributionCalculated{Version: r.Version, Policy: schemas.PolicyIssued{PolicyID: r.PolicyID,
				ProductLine: r.ProductLine, AnnualPremium: premium, Currency: r.Currency, TermMonths: int(r.TermMonths), SaleType: r.SaleType,
				EffectiveDate: r.EffectiveDate, Jurisdiction: r.Jurisdiction, Carrier: r.Carrier}}
			if a.att.Policy.Installment, err = installmentOf(r); err != nil {
				return nil, nil, fmt.Errorf("attribution %s: %w", r.AttributionID, err)
			}
			byID[r.AttributionID] = a
		}
		if r.Paid == 1 {
			a.att.PaidModel = r.Model
		}
		if r.TouchEventID == "" {
			continue // an unattributed conversion
		}
		tp := a.touches[r.TouchEventID]
		if tp == nil {
			tp = &schemas.Touchpoint{Weights: map[string]int{}}
			tp.EventID, tp.ReferrerID, tp.ReferrerType = r.TouchEventID, r.ReferrerID, r.ReferrerType
			a.touches[r.TouchEventID] = tp
			a.order = append(a.order, r.TouchEventID)
		}
		tp.Weights[r.Model] = int(r.WeightBP)
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	envs := make([]schemas.Envelope, len(ids))
	atts := make([]schemas.AttributionCalculated, len(ids))
	for i, id := range ids {
		a := byID[id]
		sort.Strings(a.order)
		for _, e := range a.order {
			a.att.Touchpoints = append(a.att.Touchpoints, *a.touches[e])
		}
		envs[i], atts[i] = a.env, a.att
	}
	return envs, atts, nil
}

// Amounts is minor units keyed "type:id currency", in the payee's payout
// currency for an entry converted to it (commission.PayoutOf), so a payee
// is compared in what its statements pay.
type Amounts map[string]int64

// Recompute accrues every attribution under rs (direct and override
// accruals) with the reference data ref (licences, appointments and FX as
// the stage applies them; the zero Reference checks and converts
// nothing). Clawbacks and reinstatements depend on cancellations, which
// the attributions table does not hold, so they are left out on both
// sides (see Read).
func Recompute(rs *commission.RuleSet, ref commission.Reference, envs []schemas.Envelope, atts []schemas.AttributionCalculated) (Amounts, []error) {
	out := Amounts{}
	var errs []error
	for i := range envs {
		lines, err := commission.LinesFor(rs, ref, envs[i], atts[i])
		if err != nil {
			errs = append(errs, fmt.Errorf("attribution %s: %w", envs[i].EventID, err))
			continue
		}
		for _, e := range lines {
			l, err := decodeLine(e)
			if err != nil {
				return nil, []error{err}
			}
			cur, v := commission.PayoutOf(l)
			out[l.PayeeType+":"+l.PayeeID+" "+cur] += v
		}
	}
	return out, errs
}

// Diff is one payee's old and new amount.
type Diff struct {
	Payee    string
	Old, New int64
}

// Compare lists every payee in either set, sorted by the size of the change.
func Compare(old, new Amounts) []Diff {
	keys := map[string]bool{}
	for k := range old {
		keys[k] = true
	}
	for k := range new {
		keys[k] = true
	}
	out := make([]Diff, 0, len(keys))
	for k := range keys {
		out = append(out, Diff{Payee: k, Old: old[k], New: new[k]})
	}
	sort.Slice(out, func(i, j int) bool {
		di, dj := abs(out[i].New-out[i].Old), abs(out[j].New-out[j].Old)
		if di != dj {
			return di > dj
		}
		return out[i].Payee < out[j].Payee
	})
	return out
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// Read loads the period's attribution rows and what the journal accrued
// for them, from ClickHouse with FINAL: the accruals still standing (not
// reversed by a later version), which is what Recompute rebuilds, keyed
// like it (in the payout currency when converted). Clawbacks,
// reinstatements and adjustments are not part of the comparison.
func Read(ctx context.Context, conn driver.Conn, from, to time.Time) ([]Row, Amounts, error) {
	rows, err := conn.Query(ctx, `SELECT attribution_id, partner_id, lead_id, policy_id, product_line, sale_type, currency,
		version, premium_minor, term_months, converted_at, model, paid, touch_event_id, referrer_id, referrer_type, weight_bp,
		jurisdiction, carrier, effective_date, received_at_ms, installment_number, installment_count, installment_premium_minor
		FROM attributions FINAL WHERE converted_at >= ? AND converted_at < ?`, from, to)
	if err != nil {
		return nil, nil, fmt.Errorf("read attributions: %w", err)
	}
	var out []Row
	for rows.Next() {
		var r Row
		if err := rows.Scan(&r.AttributionID, &r.PartnerID, &r.LeadID, &r.PolicyID, &r.ProductLine, &r.SaleType, &r.Currency,
			&r.Version, &r.PremiumMinor, &r.TermMonths, &r.ConvertedAt, &r.Model, &r.Paid, &r.TouchEventID, &r.ReferrerID,
			&r.ReferrerType, &r.WeightBP, &r.Jurisdiction, &r.Carrier, &r.EffectiveDate, &r.ReceivedAtMs,
			&r.InstallmentNumber, &r.InstallmentCount, &r.InstallmentPremiumMinor); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("read attribution row: %w", err)
		}
		out = append(out, r)
	}
	rows.Close()
	paid := Amounts{}
	prows, err := conn.Query(ctx, `SELECT concat(payee_type, ':', payee_id, ' ', if(fx_rate != '', payout_currency, currency)) AS k,
		toInt64(sum(if(fx_rate != '', payout_amount_minor, amount_minor)))
		FROM commission_entries FINAL
		WHERE kind = 'accrual'
		  AND entry_id NOT IN (SELECT corrects FROM commission_entries FINAL WHERE kind = 'reversal')
		  AND attribution_id IN (SELECT attribution_id FROM attributions FINAL WHERE converted_at >= ? AND converted_at < ?)
		GROUP BY k`, from, to)
	if err != nil {
		return nil, nil, fmt.Errorf("read standing accruals: %w", err)
	}
	defer prows.Close()
	for prows.Next() {
		var k string
		var v int64
		if err := prows.Scan(&k, &v); err != nil {
			return nil, nil, err
		}
		paid[k] = v
	}
	return out, paid, prows.Err()
}
