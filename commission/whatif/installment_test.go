package whatif

import (
	"testing"
	"time"

	"github.com/reftrack/reftrack/commission"
	"github.com/reftrack/reftrack/schemas"
)

// TestWhatIfInstallment (issue #18, installments): an installment's rows
// rebuild its installment (migration 0014), so what-if prices it on its
// own premium and number as the stage did, rather than refusing it or
// pricing the annual premium.
func TestWhatIfInstallment(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 10, 2, 8, 0, 0, 0, time.UTC)
	row := Row{AttributionID: "a-inst", PartnerID: "acme", LeadID: "L1", PolicyID: "P1", ProductLine: "auto", SaleType: schemas.SaleInstallment,
		Currency: "USD", Version: 1, PremiumMinor: 120000, TermMonths: 1, ConvertedAt: at, Model: "agent_of_record", Paid: 1,
		TouchEventID: "e1", ReferrerID: "A-7", ReferrerType: "agent", WeightBP: 10000, EffectiveDate: "2026-10-03",
		InstallmentNumber: 13, InstallmentCount: 24, InstallmentPremiumMinor: 10000}
	envs, atts, err := Attributions([]Row{row})
	if err != nil || len(atts) != 1 {
		t.Fatalf("attributions %+v, error %v", atts, err)
	}
	if i := atts[0].Policy.Installment; i == nil || *i != (schemas.Installment{Number: 13, Of: 24, Premium: "100.00"}) {
		t.Fatalf("installment %+v", i)
	}
	rs, err := commission.ParseRules([]byte(`{"schema_version": 2, "version": "v", "rules": [
		{"id": "early", "when": "sale_type == \"installment\" && installment_number <= 12", "amount": {"percent": "10"}},
		{"id": "late", "when": "sale_type == \"installment\"", "amount": {"percent": "2"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	again, errs := Recompute(rs, commission.Reference{}, envs, atts)
	if len(errs) > 0 || again["agent:A-7 USD"] != 200 {
		t.Errorf("what-if %v (errors %v), want agent:A-7 USD 200: 2 %% of the 13th installment's 100.00", again, errs)
	}
}
