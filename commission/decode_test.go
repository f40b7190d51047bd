package commission

import "testing"

// benchEvents are records as commission reads them from attributions.
var benchEvents = map[string]string{
	"attribution": `{"event_id":"5d0f8a4e-1f0b-5b52-9a43-0c3e2f8b9a10","event_type":"attribution.calculated","schema_version":1,"occurred_at":"2026-10-02T08:00:00Z","received_at":"2026-10-02T08:00:01Z","partner_id":"acme","lead_id":"L-1042","payload":{"version":1834506241024003,"policy_event_id":"2c6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c13","policy":{"policy_id":"P-1042","product_line":"home","annual_premium":"1000.50","currency":"EUR","term_months":12,"effective_date":"2026-10-03","sale_type":"new_business","jurisdiction":"US-CA"},"paid_model":"last_touch","touchpoints":[` +
		`{"event_id":"0a6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c10","referrer_id":"broker-3","referrer_type":"broker","channel":"web","occurred_at":"2026-09-20T08:00:00Z","received_at":"2026-09-20T08:00:01Z","weights_bp":{"first_touch":10000,"last_touch":0,"linear":3334,"position_based":4000,"time_decay":1546}},` +
		`{"event_id":"0b6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c11","referrer_id":"agent-17","referrer_type":"agent","channel":"crm","occurred_at":"2026-09-28T08:00:00Z","received_at":"2026-09-28T08:00:01Z","weights_bp":{"first_touch":0,"last_touch":0,"linear":3333,"position_based":2000,"time_decay":3307}},` +
		`{"event_id":"0c6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c12","referrer_id":"agent-18","referrer_type":"agent","channel":"crm","occurred_at":"2026-10-01T08:00:00Z","received_at":"2026-10-01T08:00:01Z","weights_bp":{"first_touch":0,"last_touch":10000,"linear":3333,"position_based":4000,"time_decay":5147}}]}}`,
	"cancelled": `{"event_id":"6d0f8a4e-1f0b-5b52-9a43-0c3e2f8b9a11","event_type":"attribution.cancelled","schema_version":1,"occurred_at":"2026-11-02T08:00:00Z","received_at":"2026-11-02T08:00:01Z","partner_id":"acme","lead_id":"L-1042","payload":{"attribution_id":"5d0f8a4e-1f0b-5b52-9a43-0c3e2f8b9a10","policy_event_id":"2c6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c13","cancel_event_id":"3c6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c14","policy":{"policy_id":"P-1042","product_line":"home","annual_premium":"1000.50","currency":"EUR","term_months":12,"effective_date":"2026-10-03","sale_type":"new_business"},"cancelled_on":"2026-11-01"}}`,
}

// BenchmarkDecodeEvent is commission's per-record decoding.
func BenchmarkDecodeEvent(b *testing.B) {
	for _, name := range []string{"attribution", "cancelled"} {
		raw := []byte(benchEvents[name])
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeEvent(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
