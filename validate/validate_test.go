package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/validation"
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
)

func TestProcess(t *testing.T) {
	t.Parallel()
	v, err := validation.New(validation.DefaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	process := Process(v)
	in := []byte(issued)
	out, err := process(context.Background(), worker.Message{Value: in})
	if err != nil || len(out) != 1 {
		t.Fatalf("Process(valid) = %v, %v", out, err)
	}
	if string(in) != issued {
		t.Errorf("Process rewrote the record's own bytes: %s", in)
	}
	if bytes.ContainsAny(out[0].Value, "\n\t") || len(out[0].Value) >= len(issued) {
		t.Errorf("an unchanged event goes on without its white space: %s", out[0].Value)
	}
	var got, want map[string]any
	_ = json.Unmarshal(out[0].Value, &got)
	_ = json.Unmarshal([]byte(issued), &want)
	if out[0].Topic != schemas.TopicValid || string(out[0].Key) != "acme|lead-1" || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("a valid, already canonical event must pass with the same content, keyed by the tenant-scoped lead: %+v", out[0])
	}
	out, err = process(context.Background(), worker.Message{Value: []byte(strings.NewReplacer(`"type":"agent"`, `"type":"Insurance Agent"`, "ana@example.com", " ANA@example.com").Replace(created))})
	if err != nil || !strings.Contains(string(out[0].Value), `"type":"agent"`) || !strings.Contains(string(out[0].Value), `"email":"ana@example.com"`) || !strings.Contains(string(out[0].Value), `"phone":"+442079460958"`) {
		t.Errorf("normalized output %s, %v", out[0].Value, err)
	}
	_, err = process(context.Background(), worker.Message{Value: []byte("garbage")})
	var rej *worker.RejectError
	if !errors.As(err, &rej) || rej.Reasons[0].Code != validation.CodeMalformedJSON {
		t.Errorf("Process(garbage) error = %v, want a RejectError with %s", err, validation.CodeMalformedJSON)
	}
}

func TestPhoneRegionFlag(t *testing.T) {
	t.Parallel()
	for region, ok := range map[string]bool{"US": true, "GB": true, "XX": false, "": false, "usa": false} {
		if err := (&App{Validation: validation.Config{PhoneRegion: region}}).Validate(); (err == nil) != ok {
			t.Errorf("--phone-region %q: %v", region, err)
		}
	}
}
