package attribute

import "github.com/reftrack/reftrack/schemas"

// paidToAgent says whether a sale of saleType is paid to the policy's
// agent of record whatever touches are in the window: renewal and
// installment (as-earned) commission belong to whoever services the
// policy, not to whoever referred the lead (issue #18).
func paidToAgent(saleType string) bool {
	return saleType == schemas.SaleRenewal || saleType == schemas.SaleInstallment
}
