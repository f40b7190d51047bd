package jsoncheck

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, code, ptr string
	}{
		{`{"a":1,"b":{"c":[1,{"d":2}]}}`, "", ""},
		{`{"a":1,"a":2}`, CodeDuplicateKey, "/a"},
		{`{"p":{"x":1,"y":2,"x":3}}`, CodeDuplicateKey, "/p/x"},
		{`{"l":[{"k":1},{"k":1,"k":2}]}`, CodeDuplicateKey, "/l/1/k"},
		{`{"a/b":1,"a/b":1}`, CodeDuplicateKey, "/a~1b"},
		{`[{"a":1},{"a":1}]`, "", ""}, // same key in sibling objects is fine
		{strings.Repeat("[", 40) + strings.Repeat("]", 40), CodeTooDeep, ""},
		{strings.Repeat(`{"a":`, 33) + "1" + strings.Repeat("}", 33), CodeTooDeep, ""},
		{`{"s":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"{"}`, "", ""}, // brackets inside strings do not nest
		{strings.Repeat(`{"a":`, 32) + "1" + strings.Repeat("}", 32), "", ""},
		{`{"a":`, "", ""}, // malformed: the decoder reports it
		{`{"a":1}{"a":1}`, "", ""},
	}
	for _, tt := range tests {
		err := Check([]byte(tt.in))
		var e *Error
		if tt.code == "" {
			if err != nil {
				t.Errorf("Check(%.40s) = %v", tt.in, err)
			}
			continue
		}
		if !errors.As(err, &e) || e.Code != tt.code || e.Pointer != tt.ptr {
			t.Errorf("Check(%.40s) = %v, want %s at %s", tt.in, err, tt.code, tt.ptr)
		}
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `[[[]]]`, `{"a":[{"b":{}}]}`, "\x00", `{"\u0000":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		_ = Check(raw) // must not panic on anything
	})
}

func BenchmarkCheck(b *testing.B) {
	raw := []byte(`{"event_id":"0b6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c13","event_type":"policy.issued","schema_version":1,"occurred_at":"2026-11-01T10:00:00Z","partner_id":"acme","lead_id":"lead-1","payload":{"policy_id":"P-1","product_line":"auto","annual_premium":"1200.50","currency":"USD","term_months":12,"effective_date":"2026-11-02","sale_type":"new_business"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := Check(raw); err != nil {
			b.Fatal(err)
		}
	}
}
