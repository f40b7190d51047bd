package sink

import (
	"strings"
	"testing"

	"github.com/reftrack/reftrack/schemas"
)

// TestInstallmentRows (issue #18, installments): an attribution of an
// installment lands its number, count and premium (minor units) on every
// row, which whatif needs to price it as commission did; any other sale
// gets zeros, and premium_minor stays the annual premium.
func TestInstallmentRows(t *testing.T) {
	t.Parallel()
	installment := strings.NewReplacer(`"term_months":12`, `"term_months":1`, `"sale_type":"new_business"`,
		`"sale_type":"installment","installment":{"number":3,"of":12,"premium":"83.38"}`).Replace(attributionV2)
	tests := []struct {
		name, in string
		want     map[string]any
	}{
		{"installment", installment, map[string]any{"installment_number": uint16(3), "installment_count": uint16(12),
			"installment_premium_minor": int64(8338), "premium_minor": int64(100050)}},
		{"new business", attributionV2, map[string]any{"installment_number": uint16(0), "installment_count": uint16(0),
			"installment_premium_minor": int64(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rows, _ := Decode(schemas.TopicAttributions, msg(schemas.TopicAttributions, 7, tt.in))
			if len(rows) == 0 {
				t.Fatal("no rows")
			}
			for _, r := range rows {
				if len(r.Values) != len(r.Table.Columns) {
					t.Fatalf("%d values for %d columns", len(r.Values), len(r.Table.Columns))
				}
				for col, want := range tt.want {
					if g, w := jsonOf(column(t, r, col)), jsonOf(want); g != w {
						t.Errorf("%s = %s, want %s", col, g, w)
					}
				}
			}
		})
	}
}
