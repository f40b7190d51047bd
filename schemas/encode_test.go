package schemas

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"
)

func TestEncodeAsEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 1, 10, 0, 0, 123456789, time.FixedZone("", 3600))
	tp := Touchpoint{Touch: Touch{EventID: "e<1>", ReferrerID: "a&b", ReferrerType: ReferrerAgent, Channel: "crm\u2028", OccurredAt: at, ReceivedAt: at.UTC()},
		Weights: map[string]int{"linear": 3333, "first_touch": 0, "last_touch": 10000}}
	policy := PolicyIssued{PolicyID: "P-1", ProductLine: "auto", AnnualPremium: "1200.50", Currency: "USD", TermMonths: 12, EffectiveDate: "2026-11-02", SaleType: "renewal"}
	payload, err := json.Marshal(AttributionCalculated{Version: 2, PolicyEventID: "e2", Policy: policy, PaidModel: "linear", Touchpoints: []Touchpoint{tp, {Excluded: true}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{
		Envelope{EventID: "e1", EventType: TypeAttributionCalculated, SchemaVersion: 1, OccurredAt: at, ReceivedAt: &at, PartnerID: "acme", LeadID: "L\"1",
			Payload: json.RawMessage(" {\"a\" : [1, 2.50, \"<x>\"]}\n"), Trace: map[string]int64{"ingest": 5, "b": -1}},
		Envelope{Payload: json.RawMessage(`null`)},
		Envelope{Payload: payload},
		AttributionCalculated{},
		AttributionCancelled{AttributionID: "x", Policy: policy, CancelledOn: "2026-12-01"},
		CommissionCalculated{AttributionID: "x", AmountMinor: -1250, WeightBP: 5000, Kind: "clawback", SourceLineID: "l1"},
		CommissionCalculated{},
		Rejection{Stage: "validate", Reasons: []Reason{{Code: "c", Pointer: "/a/~1b", Message: "m\x00\u2029"}}, Key: []byte("k"), Original: []byte("\xff\x00{"), FailedAt: at},
		Rejection{},
		ReferralCreated{Referrer: Referrer{ID: "a", Type: ReferrerAgent}, Lead: Contact{Name: "Zoë", Email: "z@example.com"}},
		[]Touchpoint(nil),
		map[string]any{"z": 1.5, "a": []any{nil, true, "s"}},
	} {
		want, werr := json.Marshal(v)
		got, gerr := Encode(v)
		if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
			t.Errorf("Encode(%#v)\n got %s, %v\nwant %s, %v", v, got, gerr, want, werr)
		}
	}
	// The one known difference: invalid UTF-8 becomes a raw U+FFFD where
	// encoding/json escapes it; the JSON values are the same.
	bad := Reason{Message: "m\xff"}
	want, _ := json.Marshal(bad)
	got, err := Encode(bad)
	var a, b any
	if err != nil || json.Unmarshal(got, &a) != nil || json.Unmarshal(want, &b) != nil || a.(map[string]any)["message"] != b.(map[string]any)["message"] {
		t.Errorf("Encode(invalid UTF-8) = %s, %v; encoding/json: %s", got, err, want)
	}
}

func BenchmarkEncode(b *testing.B) {
	at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	w := map[string]int{"first_touch": 0, "last_touch": 10000, "linear": 3333, "position_based": 2000, "time_decay": 3000}
	tp := Touchpoint{Touch: Touch{EventID: "0b6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c13", ReferrerID: "a-007", ReferrerType: ReferrerAgent, Channel: "crm", OccurredAt: at, ReceivedAt: at}, Weights: w}
	v := AttributionCalculated{Version: 1, PolicyEventID: "e2", PaidModel: "last_touch", Touchpoints: []Touchpoint{tp, tp, tp},
		Policy: PolicyIssued{PolicyID: "P-1", ProductLine: "auto", AnnualPremium: "1200.50", Currency: "USD", TermMonths: 12}}
	for _, enc := range []struct {
		name string
		f    func(any) ([]byte, error)
	}{{"encoding-json", json.Marshal}, {"Encode", Encode}} {
		b.Run(enc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, _ := enc.f(v)
				_, _ = enc.f(Envelope{EventID: "x", EventType: TypeAttributionCalculated, SchemaVersion: 1, OccurredAt: at, PartnerID: "acme", LeadID: "L", Payload: p})
			}
		})
	}
}

// canonicalByEncodingJSON is how dedupe fingerprinted payloads before
// Canonical, and what Canonical must keep writing.
func canonicalByEncodingJSON(raw []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

var canonicalSeeds = []string{
	`{"referrer":{"type":"agent","id":"a-1"},"channel":"crm","lead":{"name":"Zoë <z>","email":"z&z@example.com"}}`,
	`{"status":"lost","reason":"\u2028 \"quoted\" \ud83d\ude00"}`,
	`{"b":1.50,"a":[1e3,-0,12345678901234567890,1e-7,0.1,null,true,{"z":{},"y":[]}]}`,
	`{"dup":1,"dup":{"x":2}}`,
	"{\"bad\":\"\xff\xfe\"}",
	` [ "x" , 2 ] `,
	`"just a string"`,
	`{"a":1,}`,
	`{"c":"\b\f\n\r\t\u0001\u001f\u007f","n":[-0,1e21,1e20,1e-6,1e-7,123456789.125e-3,1E+2]}`,
	`{"big":1e400}`,
	`{"lone":"\ud800x\udc00"}`,
	`{"d":{"x":1},"d":{"y":2},"e":[],"e":{}}`,
	`[[[[{"z":null,"a":false}]]]]`,
	`{} {}`,
	``,
}

func TestCanonicalAsEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, raw := range canonicalSeeds {
		want, werr := canonicalByEncodingJSON([]byte(raw))
		got, gerr := Canonical([]byte(raw))
		if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
			t.Errorf("Canonical(%q)\n got %s, %v\nwant %s, %v", raw, got, gerr, want, werr)
		}
	}
}

// FuzzCanonicalAsEncodingJSON: on anything Kafka may carry, Canonical
// fails when encoding/json fails and writes the same bytes when it does
// not, but for invalid UTF-8, which both accept and spell differently (the
// same JSON string; see Encode) and which validate keeps out of the
// pipeline.
func FuzzCanonicalAsEncodingJSON(f *testing.F) {
	for _, s := range canonicalSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		want, werr := canonicalByEncodingJSON(raw)
		got, gerr := Canonical(raw)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("Canonical(%q): error %v, encoding/json %v", raw, gerr, werr)
		}
		if werr == nil && utf8.Valid(raw) && !bytes.Equal(got, want) {
			t.Fatalf("Canonical(%q)\n got %s\nwant %s", raw, got, want)
		}
	})
}

func BenchmarkCanonical(b *testing.B) {
	raw := []byte(canonicalSeeds[0])
	for _, c := range []struct {
		name string
		f    func([]byte) ([]byte, error)
	}{{"encoding-json", canonicalByEncodingJSON}, {"Canonical", Canonical}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.f(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
