package ops

import (
	"strings"
	"testing"
)

// TestWhatifReference (issue #18): what-if takes the stage's reference data
// on the stage's terms — rates only with a registry, each file checked.
func TestWhatifReference(t *testing.T) {
	t.Parallel()
	const licences, rates = "../testdata/licences.json", "../testdata/rates.json"
	tests := []struct {
		name, licences, rates string
		wantErr               string
		wantLicences, wantFX  bool
	}{
		{"none: priced unchecked", "", "", "", false, false},
		{"licences alone", licences, "", "", true, false},
		{"both", licences, rates, "", true, true},
		{"rates without a registry", "", rates, "needs --licences", false, false},
		{"a broken registry", rates, "", "licences", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ref, err := loadReference(tt.licences, tt.rates)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (ref.Licences != nil) != tt.wantLicences || (ref.Rates != nil) != tt.wantFX {
				t.Errorf("licences %v rates %v", ref.Licences != nil, ref.Rates != nil)
			}
		})
	}
}
