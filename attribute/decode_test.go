package attribute

import "testing"

// benchEvents are events as attribute reads them from referrals.unique.
var benchEvents = map[string]string{
	"created": `{"event_id":"0b6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c11","event_type":"referral.created","schema_version":1,"occurred_at":"2026-10-01T08:00:00Z","received_at":"2026-10-01T08:00:01.5Z","partner_id":"acme","lead_id":"L-1042","idempotency_key":"crm-77-1","payload":{"referrer":{"id":"agent-17","type":"agent"},"channel":"crm","lead":{"name":"sealed:v1:k1:QmFzZTY0U2VhbGVkTmFtZQ","email":"sealed:v1:k1:QmFzZTY0U2VhbGVkRW1haWw","phone":"sealed:v1:k1:QmFzZTY0U2VhbGVkUGhvbmU"},"product_interest":"home"},"trace":{"ingest":1790841601500,"validate":1790841601520}}`,
	"status":  `{"event_id":"1c6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c12","event_type":"referral.status_updated","schema_version":1,"occurred_at":"2026-10-01T09:00:00Z","received_at":"2026-10-01T09:00:01Z","partner_id":"acme","lead_id":"L-1042","payload":{"status":"contacted"},"trace":{"ingest":1790845201000,"validate":1790845201020}}`,
	"issued":  `{"event_id":"2c6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c13","event_type":"policy.issued","schema_version":2,"occurred_at":"2026-10-02T08:00:00Z","received_at":"2026-10-02T08:00:01Z","partner_id":"acme","lead_id":"L-1042","payload":{"policy_id":"P-1042","product_line":"home","annual_premium":"1000.50","currency":"EUR","term_months":12,"effective_date":"2026-10-03","sale_type":"new_business","jurisdiction":"US-CA"},"trace":{"ingest":1790928001000,"validate":1790928001020}}`,
}

// BenchmarkDecode is attribute's per-event decoding.
func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"created", "status", "issued"} {
		raw := []byte(benchEvents[name])
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decode(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
