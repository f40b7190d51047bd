package dedupe

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// benchEvents are events as dedupe reads them from referrals.valid: what
// validate wrote (contact sealed, trace stamped).
var benchEvents = map[string]string{
	"created": `{"event_id":"0b6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c11","event_type":"referral.created","schema_version":1,"occurred_at":"2026-10-01T08:00:00Z","received_at":"2026-10-01T08:00:01.5Z","partner_id":"acme","lead_id":"L-1042","idempotency_key":"crm-77-1","payload":{"referrer":{"id":"agent-17","type":"agent"},"channel":"crm","lead":{"name":"sealed:v1:k1:QmFzZTY0U2VhbGVkTmFtZQ","email":"sealed:v1:k1:QmFzZTY0U2VhbGVkRW1haWw","phone":"sealed:v1:k1:QmFzZTY0U2VhbGVkUGhvbmU"},"product_interest":"home"},"trace":{"ingest":1790841601500,"validate":1790841601520}}`,
	"status":  `{"event_id":"1c6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c12","event_type":"referral.status_updated","schema_version":1,"occurred_at":"2026-10-01T09:00:00Z","received_at":"2026-10-01T09:00:01Z","partner_id":"acme","lead_id":"L-1042","payload":{"status":"contacted"},"trace":{"ingest":1790845201000,"validate":1790845201020}}`,
	"issued":  `{"event_id":"2c6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c13","event_type":"policy.issued","schema_version":2,"occurred_at":"2026-10-02T08:00:00Z","received_at":"2026-10-02T08:00:01Z","partner_id":"acme","lead_id":"L-1042","payload":{"policy_id":"P-1042","product_line":"home","annual_premium":"1000.50","currency":"EUR","term_months":12,"effective_date":"2026-10-03","sale_type":"new_business","jurisdiction":"US-CA"},"trace":{"ingest":1790928001000,"validate":1790928001020}}`,
}

// BenchmarkDecode is dedupe's per-event decoding: the envelope, the key,
// the content fingerprint, and a status change's status.
func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"created", "status", "issued"} {
		m := worker.Message{Topic: "referrals.valid", Partition: 1, Offset: 7, Value: []byte(benchEvents[name])}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decode(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// fingerprintByEncodingJSON is the fingerprint as dedupe computed it with
// encoding/json, which claims already in the state carry.
func fingerprintByEncodingJSON(env *schemas.Envelope) string {
	h := sha256.New()
	h.Write([]byte(env.EventType + "\x00" + env.LeadID + "\x00"))
	var payload any
	if json.Unmarshal(env.Payload, &payload) == nil {
		b, _ := json.Marshal(payload)
		h.Write(b)
	} else {
		h.Write(env.Payload)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// TestFingerprintUnchanged: a claim written before fingerprints moved to
// the pipeline's JSON library still matches a resend of its event, so a
// deploy turns no copy into an event_id_reused rejection.
func TestFingerprintUnchanged(t *testing.T) {
	t.Parallel()
	payloads := []string{
		`{"status":"lost","reason":"<price> & \u2028"}`,
		`{"b":1.50,"a":[1e3,12345678901234567890,1e-7,null,true,{"z":{}}]}`,
		`{"dup":1,"dup":2}`,
		`not json`,
	}
	for _, raw := range benchEvents {
		var env schemas.Envelope
		if err := schemas.Decode([]byte(raw), &env); err != nil {
			t.Fatal(err)
		}
		payloads = append(payloads, string(env.Payload))
	}
	for _, p := range payloads {
		env := schemas.Envelope{EventType: schemas.TypeReferralStatusUpdated, LeadID: "L-1", Payload: []byte(p)}
		if got, want := fingerprint(&env), fingerprintByEncodingJSON(&env); got != want {
			t.Errorf("fingerprint of %s = %s, was %s", p, got, want)
		}
	}
}
