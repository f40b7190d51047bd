package sample

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOracleRefusesWhatItDoesNotModel: the oracle prices a policy once as a
// percent of its whole premium (commission-rules.v2 semantics, split by
// weight; the generator pays the last touch, so the split is the identity).
// Minimums, caps, bands, flat amounts and payee rules change that price: an
// oracle that silently ignored them would agree with a wrong stage.
func TestOracleRefusesWhatItDoesNotModel(t *testing.T) {
	t.Parallel()
	const head = `{"schema_version":2,"version":"v","rules":[{"id":"r","when":"true","amount":`
	tests := []struct{ name, file, want string }{
		{"cap", head + `{"percent":"30","cap":{"USD":"1500.00"}}}]}`, "cap"},
		{"min", head + `{"percent":"30","min":{"USD":"50.00"}}}]}`, "min"},
		{"flat", head + `{"flat":{"USD":"50.00"}}}]}`, "flat"},
		{"payee rules", head + `{"percent":"30"}}],"payee_rules":[{"id":"p","when":"true","reward":{"USD":"1.00"}}]}`, "payee rules"},
		{"unknown schema", `{"schema_version":3,"version":"v","rules":[{"id":"r","when":"true","amount":{"percent":"1"}}]}`, "schema_version 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "rules.json")
			if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadRules(path); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadRules error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

// TestOracleDevRules: the dev rules price once per policy, half away from
// zero: 12.5 % of 1 234.57 = 154.32125 → 154.32.
func TestOracleDevRules(t *testing.T) {
	t.Parallel()
	r := devRules(t)
	if got := r.commission("home", "new_business", 123457); got != 15432 {
		t.Errorf("home 1234.57: %d, want 15432", got)
	}
}
