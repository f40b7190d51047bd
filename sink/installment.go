package sink

import (
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/money"
)

// installmentValues are the attributions columns of p's installment
// (migration 0014): its number, count and premium in minor units, so that
// whatif prices it as commission did; zeros for any other sale.
func installmentValues(p schemas.PolicyIssued) []any {
	if p.Installment == nil {
		return []any{uint16(0), uint16(0), int64(0)}
	}
	// validate admitted the premium in p's currency; commission refuses
	// one that does not parse, so a 0 here prices nothing it paid.
	premium, _ := money.ParseMinor(p.Installment.Premium, p.Currency)
	return []any{uint16(p.Installment.Number), uint16(p.Installment.Of), premium}
}
