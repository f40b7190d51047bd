package whatif

import (
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
	old, errs := Recompute(current, envs, atts)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	next, errs := Recompute(candidate, envs, atts)
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
