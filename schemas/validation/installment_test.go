package validation

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/schemas/money"
)

// installmentV2 is a policy.issued v2 of the third of twelve monthly
// installments (issue #18): its dates are the month it pays for.
const installmentV2 = `{"event_id":"0b6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c18","event_type":"policy.issued","schema_version":2,
	"occurred_at":"2026-11-01T10:00:00Z","partner_id":"acme","lead_id":"lead-1",
	"payload":{"policy_id":"P-3","product_line":"auto","annual_premium":"1200.00","currency":"USD","term_months":1,"effective_date":"2027-01-02","sale_type":"installment","jurisdiction":"US-CA","agent_of_record":"a-7","installment":{"number":3,"of":12,"premium":"100.00"}}}`

// FuzzCheckInstallment: whatever an installment holds, Check never panics,
// and an accepted installment has a number in 1..of and a premium that
// fits its currency, so commission never prices a bad one.
func FuzzCheckInstallment(f *testing.F) {
	f.Add(3, 12, "100.00", "USD")
	f.Add(13, 12, "100.00", "USD")
	f.Add(1, 1, "100.5", "JPY")
	f.Add(0, 0, "", "XYZ")
	v, err := New(DefaultConfig)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, number, of int, premium, currency string) {
		b, _ := json.Marshal(map[string]any{"number": number, "of": of, "premium": premium})
		raw := strings.NewReplacer(`{"number":3,"of":12,"premium":"100.00"}`, string(b), `"USD"`, strconv.Quote(currency)).Replace(installmentV2)
		_, _, reasons := v.Check([]byte(raw))
		if len(reasons) > 0 {
			return
		}
		if number < 1 || number > of {
			t.Errorf("accepted installment %d of %d", number, of)
		}
		if _, err := money.ParseMinor(premium, currency); err != nil {
			t.Errorf("accepted premium %q %s: %v", premium, currency, err)
		}
	})
}
