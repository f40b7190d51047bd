package whatif

import (
	"fmt"
	"testing"
	"time"

	"github.com/reftrack/reftrack/commission"
)

func rows() []Row {
	at := time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)
	base := Row{AttributionID: "att-1", PartnerID: "acme", LeadID: "L1", PolicyID: "P1", ProductLine: "auto", SaleType: "new_business",
		Currency: "USD", Version: 3, PremiumMinor: 100000, TermMonths: 12, ConvertedAt: at}
	var out []Row
	add := func(r Row, model string, paid uint8, touch, ref, typ string, w uint16) {
		r.Model, r.Paid, r.TouchEventID, r.ReferrerID, r.ReferrerType, r.WeightBP = model, paid, touch, ref, typ, w
		out = append(out, r)
	}
	add(base, "last_touch", 1, "t1", "A-1", "agent", 0)
	add(base, "linear", 0, "t1", "A-1", "agent", 5000)
	add(base, "last_touch", 1, "t2", "B-1", "broker", 10000)
	add(base, "linear", 0, "t2", "B-1", "broker", 5000)
	unattributed := base
	unattributed.AttributionID, unattributed.PolicyID = "att-2", "P2"
	add(unattributed, "last_touch", 1, "", "", "", 0)
	return out
}

func TestWhatIf(t *testing.T) {
	t.Parallel()
	envs, atts, err := Attributions(rows())
	if err != nil {
		t.Fatal(err)
	}
	if len(atts) != 2 || atts[0].PaidModel != "last_touch" || len(atts[0].Touchpoints) != 2 || atts[0].Policy.AnnualPremium != "1000.00" ||
		atts[0].Touchpoints[1].Weights["linear"] != 5000 || len(atts[1].Touchpoints) != 0 || envs[0].EventID != "att-1" {
		t.Fatalf("rebuilt %+v", atts)
	}
	current, err := commission.ParseRules([]byte(`{"version":"v1","rules":[{"id":"all","when":"true","amount":{"percent":"10"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	candidate, err := commission.ParseRules([]byte(`{"schema_version":2,"version":"v2",
		"rules":[{"id":"all","when":"true","amount":{"percent":"10"}}],
		"payee_rules":[{"id":"brokers","when":"payee_type == \"broker\"","uplift":{"percent":"50"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	old, errs := Recompute(current, commission.Reference{}, envs, atts)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	next, errs := Recompute(candidate, commission.Reference{}, envs, atts)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	// Last touch pays B-1 all of 1000.00: 100.00 now, 150.00 under v2; A-1
	// keeps a zero line.
	d := Compare(old, next)
	if len(d) != 2 || d[0] != (Diff{"broker:B-1 USD", 10000, 15000}) || d[1] != (Diff{"agent:A-1 USD", 0, 0}) {
		t.Errorf("diff %+v", d)
	}
}

// TestWhatIfAppliesLicencesAndFX (issue #18): what-if prices history with
// the licence registry and FX rates the stage ran with, from the policy
// terms the attributions table keeps (jurisdiction, carrier, effective
// date, receipt): a payee not appointed by the carrier gets the referral
// fee, a payee paid in EUR is compared in EUR at the rate as of the
// attribution's receipt (none yet: unconverted, in USD, as the stage held
// it), and without a registry nothing is checked. Hand-computed: 10 % of
// 1000.00 USD = 100.00, halves of 50.00; the US-CA fee 25.00 × 5000 bp =
// 12.50; 50.00 USD × 0.925 = 46.25 EUR.
func TestWhatIfAppliesLicencesAndFX(t *testing.T) {
	t.Parallel()
	received := time.Date(2026, 10, 5, 9, 30, 0, 0, time.UTC)
	base := Row{AttributionID: "att-1", PartnerID: "acme", LeadID: "L1", PolicyID: "P1", ProductLine: "auto", SaleType: "new_business",
		Currency: "USD", Version: 3, PremiumMinor: 100000, TermMonths: 12, ConvertedAt: received.Add(-time.Hour), Model: "linear", Paid: 1,
		Jurisdiction: "US-CA", Carrier: "acme-life", EffectiveDate: "2026-10-06", ReceivedAtMs: uint64(received.UnixMilli())}
	a, b := base, base
	a.TouchEventID, a.ReferrerID, a.ReferrerType, a.WeightBP = "t1", "A-1", "agent", 5000
	b.TouchEventID, b.ReferrerID, b.ReferrerType, b.WeightBP = "t2", "B-1", "broker", 5000
	envs, atts, err := Attributions([]Row{a, b})
	if err != nil {
		t.Fatal(err)
	}
	p := atts[0].Policy
	if p.Jurisdiction != "US-CA" || p.Carrier != "acme-life" || p.EffectiveDate != "2026-10-06" || envs[0].ReceivedAt == nil || !envs[0].ReceivedAt.Equal(received) {
		t.Fatalf("rebuilt policy %+v received %v", p, envs[0].ReceivedAt)
	}
	rs, err := commission.ParseRules([]byte(`{"schema_version":2,"version":"v2","rules":[{"id":"all","when":"true","amount":{"percent":"10"}}],
		"referral_fees":{"US-CA":{"flat":{"USD":"25.00"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	lic, err := commission.ParseLicences([]byte(`{"schema_version":1,"version":"l1","payees":{
		"agent:A-1":{"payout_currency":"EUR","licences":[{"jurisdiction":"US-CA","lines":["auto"],"effective_on":"2025-01-01"}],
		             "appointments":[{"carrier":"acme-life","effective_on":"2025-01-01"}]},
		"broker:B-1":{"licences":[{"jurisdiction":"US-CA","lines":["auto"],"effective_on":"2025-01-01"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	rates := func(asOf string) *commission.Rates {
		r, err := commission.ParseRates([]byte(`{"schema_version":1,"version":"r1","source":"test",
			"rates":[{"from":"USD","to":"EUR","rate":"0.925","as_of":"` + asOf + `"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name string
		ref  commission.Reference
		want Amounts
	}{
		{"no registry: unchecked, unconverted", commission.Reference{}, Amounts{"agent:A-1 USD": 5000, "broker:B-1 USD": 5000}},
		{"licences and a rate before the receipt", commission.Reference{Licences: lic, Rates: rates("2026-10-05T09:29:59Z")},
			Amounts{"agent:A-1 EUR": 4625, "broker:B-1 USD": 1250}},
		{"the rate is after the receipt: held unconverted", commission.Reference{Licences: lic, Rates: rates("2026-10-05T09:30:01Z")},
			Amounts{"agent:A-1 USD": 5000, "broker:B-1 USD": 1250}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, errs := Recompute(rs, tt.ref, envs, atts)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("amounts %v, want %v", got, tt.want)
			}
		})
	}
}
