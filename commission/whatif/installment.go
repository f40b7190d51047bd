package whatif

import (
	"fmt"

	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/money"
)

// installmentOf rebuilds the installment of an installment sale's row
// (migration 0014), nil for other sales.
func installmentOf(r Row) (*schemas.Installment, error) {
	if r.SaleType != schemas.SaleInstallment {
		return nil, nil
	}
	premium, err := money.FormatMinor(r.InstallmentPremiumMinor, r.Currency)
	if err != nil {
		return nil, fmt.Errorf("installment premium: %w", err)
	}
	return &schemas.Installment{Number: int(r.InstallmentNumber), Of: int(r.InstallmentCount), Premium: premium}, nil
}
