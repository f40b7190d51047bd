package sink

import (
	"strings"
	"testing"

	"github.com/reftrack/reftrack/schemas"
)

// holder is a policyholder_ref: the partner's id of the insured person.
const holder = "HOLDER-4711"

const (
	issuedV2 = `{"event_id":"e2","event_type":"policy.issued","schema_version":2,"occurred_at":"2026-10-02T08:00:00Z","partner_id":"acme","lead_id":"L1",
	"payload":{"policy_id":"P1","product_line":"home","annual_premium":"1000.50","currency":"EUR","term_months":12,"effective_date":"2026-10-03","sale_type":"new_business",
	"jurisdiction":"US-CA","carrier":"acme-life","policyholder_ref":"` + holder + `"}}`
	attributionV2 = `{"event_id":"a1","event_type":"attribution.calculated","schema_version":1,"occurred_at":"2026-10-02T08:00:00Z","received_at":"2026-10-02T08:00:02.25Z","partner_id":"acme","lead_id":"L1",
	"payload":{"policy_event_id":"e2","paid_model":"last_touch","policy":{"policy_id":"P1","product_line":"home","annual_premium":"1000.50","currency":"EUR","term_months":12,"effective_date":"2026-10-03","sale_type":"new_business",
	"jurisdiction":"US-CA","carrier":"acme-life","policyholder_ref":"` + holder + `"},
	"touchpoints":[{"event_id":"e1","referrer_id":"a-1","referrer_type":"agent","channel":"crm","occurred_at":"2026-10-01T08:00:00Z","weights_bp":{"last_touch":10000}}]}}`
)

// TestPolicyV2Rows (issue #18): an attribution of a policy.issued v2 lands
// the policy's jurisdiction, carrier, effective date and the attribution's
// receipt on every row, which whatif needs to apply licences,
// appointments and FX as the stage did; an attribution of a v1 policy gets
// the empty defaults.
func TestPolicyV2Rows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     map[string]any
	}{
		{"v2", attributionV2, map[string]any{"jurisdiction": "US-CA", "carrier": "acme-life", "effective_date": "2026-10-03",
			"received_at_ms": uint64(1790928002250)}},
		{"v1", attribution, map[string]any{"jurisdiction": "", "carrier": "", "effective_date": "2026-10-03", "received_at_ms": uint64(0)}},
		{"v2 unattributed", strings.Replace(attributionV2, `"touchpoints":[{"event_id":"e1","referrer_id":"a-1","referrer_type":"agent","channel":"crm","occurred_at":"2026-10-01T08:00:00Z","weights_bp":{"last_touch":10000}}]`,
			`"touchpoints":[]`, 1), map[string]any{"jurisdiction": "US-CA", "carrier": "acme-life"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rows, _ := Decode(schemas.TopicAttributions, msg(schemas.TopicAttributions, 7, tt.in))
			if len(rows) == 0 {
				t.Fatal("no rows")
			}
			for _, r := range rows {
				if r.Table.Name != attributions.Name || len(r.Values) != len(r.Table.Columns) {
					t.Fatalf("row for %s with %d values for %d columns", r.Table.Name, len(r.Values), len(r.Table.Columns))
				}
				for col, want := range tt.want {
					if g, w := jsonOf(column(t, r, col)), jsonOf(want); g != w {
						t.Errorf("%s = %s, want %s", col, g, w)
					}
				}
			}
		})
	}
}

// TestPolicyholderRefNeverInClickHouse (issue #18, PRIVACY.md): the
// policyholder reference of a policy.issued v2 is a person identifier; no
// row the sink writes for the policy, its attribution or a dead letter of
// it holds it, while the rest of the payload stays.
func TestPolicyholderRefNeverInClickHouse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, topic, in string
		keep            string
	}{
		{"policy event", schemas.TopicUnique, issuedV2, `"carrier":"acme-life"`},
		{"attribution", schemas.TopicAttributions, attributionV2, ""},
		{"dead letter of the policy", schemas.TopicRejected, deadLetter(t, issuedV2), `"jurisdiction":"US-CA"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rows, _ := Decode(tt.topic, msg(tt.topic, 7, tt.in))
			if len(rows) == 0 {
				t.Fatal("no rows")
			}
			all := jsonOf(rows)
			if strings.Contains(all, holder) {
				t.Errorf("ClickHouse rows hold the policyholder: %s", all)
			}
			if rows[0].Table.Name == rejectedEvents.Name && tt.topic != schemas.TopicRejected {
				t.Fatalf("dead-lettered: %s", all)
			}
			if tt.keep != "" && !strings.Contains(all, strings.ReplaceAll(tt.keep, `"`, `\"`)) {
				t.Errorf("rows lost %s: %s", tt.keep, all)
			}
		})
	}
}
