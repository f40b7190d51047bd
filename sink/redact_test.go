package sink

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/schemas"
)

// pii is what a partner sent about its lead; none of it may reach
// ClickHouse's copy of a dead letter (issue #11, finding 6).
var pii = []string{"Jane Q. Public", "Jane.Public@Example.COM", "jane.public@example.com", "+1 (555) 867-5309", "5558675309"}

// deadLetter builds a rejection as validate writes it for a referral whose
// email and phone failed: the original holds the contact, and the reasons
// echo the values the way jsonschema/v5 and phonenumbers word them (the
// email lower-cased by normalization before the schema saw it).
func deadLetter(t *testing.T, original string) string {
	t.Helper()
	rej := schemas.Rejection{
		Stage: "validate",
		Reasons: []schemas.Reason{
			{Code: "schema_violation", Pointer: "/payload/lead/email", Message: `'jane.public@example.com' is not valid 'email'`},
			{Code: "invalid_phone", Pointer: "/payload/lead/phone", Message: "the phone number supplied is not a number: 5558675309"},
			{Code: "schema_violation", Pointer: "/payload/channel", Message: `value must be "crm"`},
		},
		SourceTopic: "referrals.ingested", SourceOffset: 9, Original: []byte(original),
	}
	b, err := json.Marshal(rej)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDeadLettersReachClickHouseWithoutPII(t *testing.T) {
	t.Parallel()
	lead := `{"name":"Jane Q. Public","email":"Jane.Public@Example.COM","phone":"+1 (555) 867-5309"}`
	for _, tc := range []struct {
		name, original string
		keep           []string // what must survive, so the row still explains itself
	}{
		{"referral with bad contact",
			`{"event_type":"referral.created","partner_id":"acme","lead_id":"L1","payload":{"referrer":{"id":"a-1","type":"agent"},"channel":"x","lead":` + lead + `}}`,
			[]string{`"partner_id":"acme"`, `"lead_id":"L1"`, `"channel":"x"`, `"lead":"[redacted]"`}},
		{"contact at the top level", `{"event_type":"referral.created","email":"Jane.Public@Example.COM","phone":"5558675309","name":"Jane Q. Public"}`,
			[]string{`"event_type":"referral.created"`}},
		{"contact inside an array", `{"payload":[{"lead":` + lead + `}]}`, nil},
		{"malformed JSON holding the contact", `{"payload":{"lead":` + lead, []string{"[withheld: "}},
		{"a bare string", `"Jane.Public@Example.COM"`, []string{"[withheld: "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rows, _ := Decode(schemas.TopicRejected, msg(schemas.TopicRejected, 3, deadLetter(t, tc.original)))
			if len(rows) != 1 || rows[0].Table.Name != rejectedEvents.Name {
				t.Fatalf("rows %+v", rows)
			}
			all := jsonOf(rows[0].Values)
			for _, p := range pii {
				if strings.Contains(strings.ToLower(all), strings.ToLower(p)) {
					t.Errorf("ClickHouse row holds %q: %s", p, all)
				}
			}
			orig := column(t, rows[0], "original").(string)
			for _, k := range tc.keep {
				if !strings.Contains(orig, k) {
					t.Errorf("original %s lost %s", orig, k)
				}
			}
			msgs := column(t, rows[0], "reason_messages").([]string)
			if !strings.HasPrefix(orig, "[withheld") && msgs[2] != `value must be "crm"` {
				t.Errorf("a message with no personal data changed: %q", msgs[2])
			}
		})
	}
}

// The sink's own dead letters (records it cannot decode) follow the same rule.
func TestUndecodableRecordsReachClickHouseWithoutPII(t *testing.T) {
	t.Parallel()
	raw := `{"event_id":"e1","event_type":"referral.created","payload":{"lead":{"email":"Jane.Public@Example.COM"}},"occurred_at":7}`
	rows, _ := Decode(schemas.TopicUnique, msg(schemas.TopicUnique, 3, raw))
	if len(rows) != 1 || rows[0].Table.Name != rejectedEvents.Name {
		t.Fatalf("rows %+v", rows)
	}
	if all := strings.ToLower(jsonOf(rows[0].Values)); strings.Contains(all, "jane.public@example.com") {
		t.Errorf("ClickHouse row holds the email: %s", all)
	}
}

func FuzzRedactDeadLetter(f *testing.F) {
	f.Add([]byte(`{"payload":{"lead":{"email":"a@b.co","name":"Ann"}}}`), "'a@b.co' is not valid")
	f.Add([]byte(`[1,2]`), `"x"`)
	f.Add([]byte("\xff{"), "")
	f.Fuzz(func(t *testing.T, original []byte, msg string) {
		out, msgs := redactDeadLetter(original, []schemas.Reason{{Pointer: "/payload/lead/email", Message: msg}})
		if len(msgs) != 1 {
			t.Fatalf("%d messages for 1 reason", len(msgs))
		}
		if strings.HasPrefix(out, "[withheld: ") {
			return
		}
		var doc any
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("redacted copy is not JSON: %v: %q", err, out)
		}
		if strings.Contains(out, `"lead":{`) {
			t.Fatalf("a lead object survived: %s", out)
		}
	})
}
