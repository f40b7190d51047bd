package schemas

import (
	"encoding/json"
	"io/fs"
	"slices"
	"testing"
)

// saleTypes reads the sale_type enum of a policy.issued schema.
func saleTypes(t *testing.T, version int) []string {
	t.Helper()
	b, err := fs.ReadFile(JSONSchemas(), SchemaFile(TypePolicyIssued, version))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Properties struct {
			Payload struct {
				Properties struct {
					SaleType struct {
						Enum []string `json:"enum"`
					} `json:"sale_type"`
				} `json:"properties"`
			} `json:"payload"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d.Properties.Payload.Properties.SaleType.Enum
}

// TestInstallmentSaleType (issue #18): installment is additive to v2 (every
// v1 sale type stays), v1 is unchanged, and the constant spells the enum.
func TestInstallmentSaleType(t *testing.T) {
	t.Parallel()
	v1, v2 := saleTypes(t, 1), saleTypes(t, 2)
	if slices.Contains(v1, SaleInstallment) {
		t.Errorf("v1 changed: sale types %v", v1)
	}
	for _, s := range append(slices.Clone(v1), SaleInstallment) {
		if !slices.Contains(v2, s) {
			t.Errorf("v2 sale types %v lack %q", v2, s)
		}
	}
}

// TestInstallmentRoundTrip: the installment survives decode and encode, and
// a payload without one encodes without the key.
func TestInstallmentRoundTrip(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		`{"policy_id":"P-1","product_line":"auto","annual_premium":"1200.00","currency":"USD","term_months":1,"effective_date":"2027-01-02","sale_type":"installment","jurisdiction":"US-CA","agent_of_record":"A-7","installment":{"number":3,"of":12,"premium":"100.00"}}`,
		`{"policy_id":"P-1","product_line":"auto","annual_premium":"1200.00","currency":"USD","term_months":12,"effective_date":"2027-01-02","sale_type":"renewal","jurisdiction":"US-CA"}`,
	} {
		var p PolicyIssued
		if err := Decode([]byte(raw), &p); err != nil {
			t.Fatal(err)
		}
		b, err := Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != raw {
			t.Errorf("round trip\n got %s\nwant %s", b, raw)
		}
	}
}
