package validation

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

const (
	created = `{"event_id":"0b6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c11","event_type":"referral.created","schema_version":1,
	"occurred_at":"2026-11-01T10:00:00Z","partner_id":"acme","lead_id":"lead-1",
	"payload":{"referrer":{"id":"agent-7","type":"agent"},"channel":"crm","lead":{"name":"Ana","email":"ana@example.com","phone":"+44 20 7946 0958"}}}`
	status = `{"event_id":"0b6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c12","event_type":"referral.status_updated","schema_version":1,
	"occurred_at":"2026-11-01T10:00:00Z","received_at":"2026-11-01T10:00:01Z","partner_id":"acme","lead_id":"lead-1","payload":{"status":"quoted"}}`
	issued = `{"event_id":"0b6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c13","event_type":"policy.issued","schema_version":1,
	"occurred_at":"2026-11-01T10:00:00Z","partner_id":"acme","lead_id":"lead-1","idempotency_key":"k1",
	"payload":{"policy_id":"P-1","product_line":"auto","annual_premium":"1200.50","currency":"USD","term_months":12,"effective_date":"2026-11-02","sale_type":"new_business"}}`
	cancelled = `{"event_id":"0b6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c14","event_type":"policy.cancelled","schema_version":1,
	"occurred_at":"2026-11-01T10:00:00Z","partner_id":"acme","lead_id":"lead-1","payload":{"policy_id":"P-1","cancelled_on":"2026-12-01"}}`
	// createdSealed is created as ingest's --pii-mode seal passes it on:
	// each contact field a ciphertext (internal/pii), mixed case, which no
	// normalizer may touch.
	createdSealed = `{"event_id":"0b6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c17","event_type":"referral.created","schema_version":1,
	"occurred_at":"2026-11-01T10:00:00Z","partner_id":"acme","lead_id":"lead-1",
	"payload":{"referrer":{"id":"agent-7","type":"agent"},"channel":"crm","lead":{"name":"` + sealedName + `","email":"` + sealedEmail + `","phone":"` + sealedPhone + `"}}}`
	sealedName  = "enc:v1:A256GCM:0123456789abcdef:AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdEf"
	sealedEmail = "enc:v1:A256GCM:0123456789abcdef:ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"
	sealedPhone = "enc:v1:A256GCM:0123456789abcdef:Phone_Is-Sealed0000000000000000000000000000"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	v, err := New(DefaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	type reason struct{ code, pointer string }
	tests := []struct {
		name string
		in   string
		want []reason // nil means valid
	}{
		{"created", created, nil},
		{"status", status, nil},
		{"issued", issued, nil},
		{"cancelled", cancelled, nil},
		{"issued v2", issuedV2, nil},
		{"agent changed", agentChanged, nil},
		{"created, contact sealed", createdSealed, nil},
		{"created, some fields sealed", strings.Replace(created, `"ana@example.com"`, `"`+sealedEmail+`"`, 1), nil},
		{"sealed, blob too short", strings.Replace(createdSealed, sealedEmail, "enc:v1:A256GCM:0123456789abcdef:AAAA", 1),
			[]reason{{CodeSchema, "/payload/lead/email"}, {CodeSchema, "/payload/lead/email"}}},
		{"sealed, unknown algorithm", strings.Replace(createdSealed, sealedName, strings.Replace(sealedName, "A256GCM", "A128GCM", 1)+strings.Repeat("x", 300), 1),
			[]reason{{CodeSchema, "/payload/lead/name"}, {CodeSchema, "/payload/lead/name"}}},
		{"issued v2 without jurisdiction", strings.Replace(issuedV2, `,"jurisdiction":"US-CA"`, ``, 1), []reason{{CodeSchema, "/payload"}}},
		{"invalid utf8", "{\"event_type\":\"\xff\"}", []reason{{CodeInvalidUTF8, ""}}},
		{"truncated", `{"event_type":`, []reason{{CodeMalformedJSON, ""}}},
		{"trailing data", created + `{}`, []reason{{CodeMalformedJSON, ""}}},
		{"array", `[1,2]`, []reason{{CodeNotObject, ""}}},
		{"unknown type", strings.Replace(created, "referral.created", "referral.deleted", 1), []reason{{CodeUnknownEventType, "/event_type"}}},
		{"version 2", strings.Replace(created, `"schema_version":1`, `"schema_version":2`, 1), []reason{{CodeUnsupportedVersion, "/schema_version"}}},
		{"version string", strings.Replace(created, `"schema_version":1`, `"schema_version":"1"`, 1), []reason{{CodeUnsupportedVersion, "/schema_version"}}},
		{"bad uuid", strings.Replace(created, "0b6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c11", "nope", 1), []reason{{CodeSchema, "/event_id"}}},
		{"bad referrer type and email", strings.NewReplacer(`"type":"agent"`, `"type":"robot"`, "ana@example.com", "not-an-email").Replace(created),
			[]reason{{CodeSchema, "/payload/lead/email"}, {CodeSchema, "/payload/lead/email"}, {CodeSchema, "/payload/referrer/type"}}},
		{"unknown payload field", strings.Replace(status, `"status":"quoted"`, `"status":"quoted","mood":"happy"`, 1), []reason{{CodeSchema, "/payload"}}},
		{"unknown envelope field", strings.Replace(status, `"partner_id"`, `"color":"red","partner_id"`, 1), []reason{{CodeSchema, ""}}},
		{"premium as number", strings.Replace(issued, `"1200.50"`, `1200.50`, 1), []reason{{CodeSchema, "/payload/annual_premium"}}},
		{"premium too precise for JPY", strings.NewReplacer(`"1200.50"`, `"1200.5"`, `"USD"`, `"JPY"`).Replace(issued), []reason{{CodeInvalidAmount, "/payload/annual_premium"}}},
		{"unknown currency", strings.Replace(issued, `"USD"`, `"XYZ"`, 1), []reason{{CodeUnknownCurrency, "/payload/currency"}}},
		{"missing lead_id", strings.Replace(cancelled, `"lead_id":"lead-1",`, ``, 1), []reason{{CodeSchema, ""}}},
		// sale_type installment is additive to v2 and comes with its
		// installment (number ≥ 1, of ≥ number, premium a decimal string that
		// fits the currency); no other sale type carries one, and v1 knows
		// neither (installmentV2 is in installment_test.go).
		{"installment", installmentV2, nil},
		{"last installment", strings.Replace(installmentV2, `"number":3`, `"number":12`, 1), nil},
		{"installment missing", strings.Replace(installmentV2, `,"installment":{"number":3,"of":12,"premium":"100.00"}`, ``, 1),
			[]reason{{CodeSchema, "/payload"}}},
		{"installment on new business", strings.Replace(installmentV2, `"sale_type":"installment"`, `"sale_type":"new_business"`, 1),
			[]reason{{CodeSchema, "/payload"}}},
		{"number 0", strings.Replace(installmentV2, `"number":3`, `"number":0`, 1), []reason{{CodeSchema, "/payload/installment/number"}}},
		{"number above of", strings.Replace(installmentV2, `"number":3`, `"number":13`, 1), []reason{{CodeSchema, "/payload/installment/number"}}},
		{"premium as number", strings.Replace(installmentV2, `"premium":"100.00"`, `"premium":100`, 1), []reason{{CodeSchema, "/payload/installment/premium"}}},
		{"premium too precise for JPY", strings.NewReplacer(`"100.00"`, `"100.5"`, `"1200.00"`, `"1200"`, `"USD"`, `"JPY"`).Replace(installmentV2),
			[]reason{{CodeInvalidAmount, "/payload/installment/premium"}}},
		{"unknown field", strings.Replace(installmentV2, `"premium":"100.00"`, `"premium":"100.00","due":"2027-01-02"`, 1), []reason{{CodeSchema, "/payload/installment"}}},
		{"v1 installment", strings.Replace(strings.Replace(issued, `"sale_type":"new_business"`, `"sale_type":"installment"`, 1), "\n", "", -1),
			[]reason{{CodeSchema, "/payload/sale_type"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, _, got := v.Check([]byte(tt.in))
			if len(got) != len(tt.want) {
				t.Fatalf("got reasons %+v, want %+v", got, tt.want)
			}
			for i, w := range tt.want {
				if got[i].Code != w.code || got[i].Pointer != w.pointer || got[i].Message == "" {
					t.Errorf("reason %d = %+v, want code %s pointer %q and a message", i, got[i], w.code, w.pointer)
				}
			}
			if tt.want == nil && (env.EventID == "" || env.LeadID != "lead-1") {
				t.Errorf("valid event decoded to %+v", env)
			}
		})
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{created, createdSealed, status, issued, cancelled, `{}`, `[]`, `{"event_type":"policy.issued","schema_version":1e999}`, "\x00", strings.Repeat("[", 10000)} {
		f.Add([]byte(s))
	}
	v, err := New(DefaultConfig)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		orig := bytes.Clone(raw)
		env, out, reasons := v.Check(raw)
		if !bytes.Equal(raw, orig) {
			t.Fatalf("Check rewrote its input %q to %q", orig, raw)
		}
		if len(reasons) == 0 && (env.EventID == "" || env.LeadID == "") {
			t.Fatalf("accepted an event without ids: %q", raw)
		}
		if len(reasons) == 0 && !json.Valid(out) {
			t.Fatalf("accepted %q but passed on invalid JSON %q", raw, out)
		}
		for _, r := range reasons {
			if r.Code == "" || r.Message == "" {
				t.Fatalf("reason without code or message: %+v", r)
			}
		}
	})
}
