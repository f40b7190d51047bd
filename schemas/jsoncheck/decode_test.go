package jsoncheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want any
		code string // "" ok, "syntax", or an Error code
	}{
		{`{"a":1,"b":[true,false,null,"x",-1.5e3],"c":{}}`, map[string]any{"a": json.Number("1"),
			"b": []any{true, false, nil, "x", json.Number("-1.5e3")}, "c": map[string]any{}}, ""},
		{` [] `, []any{}, ""},
		{`"\u00e9\n"`, "é\n", ""},
		{`12345678901234567890123`, json.Number("12345678901234567890123"), ""},
		{`{"a":1,"a":2}`, nil, CodeDuplicateKey},
		{`{"p":{"x":1,"x":1}}`, nil, CodeDuplicateKey},
		{strings.Repeat("[", 33) + strings.Repeat("]", 33), nil, CodeTooDeep},
		{`{"a":1}{}`, nil, "syntax"},
		{`{"a":1} x`, nil, "syntax"},
		{`{"a":`, nil, "syntax"},
		{``, nil, "syntax"},
		{`{"a":01}`, nil, "syntax"},
		{"\"\xff\"", "\ufffd", ""},
		{`"\ud800"`, "\ufffd", ""},
		{`[1,]`, nil, "syntax"},
		{`nul`, nil, "syntax"},
	}
	for _, tt := range tests {
		got, err := Decode([]byte(tt.in))
		var e *Error
		var se *SyntaxError
		switch {
		case tt.code == "":
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decode(%q) = %#v, %v; want %#v", tt.in, got, err, tt.want)
			}
		case tt.code == "syntax":
			if !errors.As(err, &se) {
				t.Errorf("Decode(%q) error = %v, want a syntax error", tt.in, err)
			}
		default:
			if !errors.As(err, &e) || e.Code != tt.code {
				t.Errorf("Decode(%q) error = %v, want %s", tt.in, err, tt.code)
			}
		}
	}
	_, err := Decode([]byte(`{"l":[{"k":1},{"k":1,"k":2}]}`))
	if e := (*Error)(nil); !errors.As(err, &e) || e.Pointer != "/l/1/k" {
		t.Errorf("duplicate pointer: %v", err)
	}
}

// FuzzDecode holds Decode to encoding/json: on valid UTF-8 without
// duplicate names they accept the same inputs and produce the same value.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[true,null]}`, `{"a":1,"a":2}`, `[[[]]]`, `"x"`, `1e5`, `{"a":"\ud800"}`, `{} {}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := Decode(raw)
		if !utf8.Valid(raw) {
			return
		}
		// Too deep, or well-formed but for a duplicate name: encoding/json
		// would take it (the last name winning); Decode must refuse it.
		if d, _ := maxDepth(raw); d > MaxDepth || (json.Valid(raw) && !jsontext.Value(raw).IsValid(jsontext.AllowInvalidUTF8(true))) {
			if e := (*Error)(nil); !errors.As(err, &e) {
				t.Fatalf("Decode(%q) = %v, want a duplicate-name or depth refusal", raw, err)
			}
			return
		}
		var want any
		var werr error
		if !json.Valid(raw) { // exactly one value, white space around allowed
			werr = errors.New("invalid")
		} else {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			werr = dec.Decode(&want)
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("Decode(%q) error %v, encoding/json %v", raw, err, werr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("Decode(%q) = %#v, encoding/json %#v", raw, got, want)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	raw := []byte(`{"event_id":"0b6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c13","event_type":"policy.issued","schema_version":1,
	"occurred_at":"2026-11-01T10:00:00Z","partner_id":"acme","lead_id":"lead-1","idempotency_key":"k1",
	"payload":{"policy_id":"P-1","product_line":"auto","annual_premium":"1200.50","currency":"USD","term_months":12,"effective_date":"2026-11-02","sale_type":"new_business"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}
