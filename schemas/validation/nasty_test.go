package validation

import (
	"strings"
	"testing"
)

// TestNastyInputs: each hostile input gets a clear reason, none a panic.
func TestNastyInputs(t *testing.T) {
	t.Parallel()
	v, err := New(DefaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("9", 400)
	tests := []struct {
		name, in, code string
	}{
		{"duplicate key", strings.Replace(issued, `"lead_id":"lead-1",`, `"lead_id":"lead-1","lead_id":"lead-2",`, 1), "duplicate_key"},
		{"duplicate payload key", strings.Replace(issued, `"currency":"USD"`, `"currency":"USD","currency":"EUR"`, 1), "duplicate_key"},
		{"deep nesting", strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000), "too_deep"},
		{"huge number", strings.Replace(issued, `"term_months":12`, `"term_months":`+big, 1), CodeSchema},
		{"huge exponent", strings.Replace(issued, `"schema_version":1`, `"schema_version":1e999999`, 1), CodeUnsupportedVersion},
		{"huge premium", strings.Replace(issued, `"1200.50"`, `"`+big+`"`, 1), CodeSchema},
		{"invalid UTF-8", strings.Replace(created, "Ana", "An\xc3\x28", 1), CodeInvalidUTF8},
		{"raw NUL", strings.Replace(created, `"crm"`, "\"cr\x00m\"", 1), CodeMalformedJSON},
		{"escaped NUL in an id", strings.Replace(created, `"lead-1"`, `"lead\u0000-1"`, 1), CodeSchema},
		{"10 MB of spaces then garbage", strings.Repeat(" ", 10<<20) + "x", CodeMalformedJSON},
		{"empty", "", CodeMalformedJSON},
		{"leap second", strings.Replace(created, "2026-11-01T10:00:00Z", "2026-12-31T23:59:60Z", 1), CodeSchema},
	}
	for _, tt := range tests {
		_, _, reasons := v.Check([]byte(tt.in))
		if len(reasons) == 0 || reasons[0].Code != tt.code || reasons[0].Message == "" {
			t.Errorf("%s: reasons %.200v, want first %s", tt.name, reasons, tt.code)
		}
	}
	// A NUL escaped inside a name is valid JSON; normalization drops it.
	_, out, reasons := v.Check([]byte(strings.Replace(created, `"Ana"`, `"An\u0000a"`, 1)))
	if len(reasons) != 0 || !strings.Contains(string(out), `"name":"Ana"`) {
		t.Errorf("escaped NUL in a name: %s %v", out, reasons)
	}
}
