package commission

import (
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/money"
)

// installmentNumber is which installment p pays (rule variable
// installment_number), 0 for a sale that is not an installment.
func installmentNumber(p schemas.PolicyIssued) int {
	if p.Installment == nil {
		return 0
	}
	return p.Installment.Number
}

// installmentCount is how many installments p's policy is paid in (rule
// variable installment_count), 0 for a sale that is not an installment.
func installmentCount(p schemas.PolicyIssued) int {
	if p.Installment == nil {
		return 0
	}
	return p.Installment.Of
}

// commissionBase is the premium p's commission is priced on, in minor
// units: an installment's own premium (as-earned commission on what was
// collected), else the annual premium. An installment sale without a
// sound installment, or another sale with one, is refused rather than
// priced on the annual premium, which would pay a year for a month.
func commissionBase(p schemas.PolicyIssued) (int64, error) {
	if (p.SaleType == schemas.SaleInstallment) != (p.Installment != nil) {
		return 0, worker.Reject(CodeBadPremium, "/payload/policy/installment", "sale type %q with installment %v: an installment sale has one, no other does", p.SaleType, p.Installment != nil)
	}
	if p.Installment == nil {
		premium, err := money.ParseMinor(p.AnnualPremium, p.Currency)
		if err != nil {
			return 0, worker.Reject(CodeBadPremium, "/payload/policy/annual_premium", "%v", err)
		}
		return premium, nil
	}
	if i := p.Installment; i.Number < 1 || i.Number > i.Of {
		return 0, worker.Reject(CodeBadPremium, "/payload/policy/installment/number", "installment %d of %d", i.Number, i.Of)
	}
	premium, err := money.ParseMinor(p.Installment.Premium, p.Currency)
	if err != nil {
		return 0, worker.Reject(CodeBadPremium, "/payload/policy/installment/premium", "%v", err)
	}
	return premium, nil
}
