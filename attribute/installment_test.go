package attribute

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// installment is installment number of 12 of policy P, a v2 policy.issued
// of sale type installment for the month from effective; agent names the
// agent of record ("" for none).
func installment(off int64, id, lead string, number int, effective, agent string, at time.Time) worker.Message {
	aor := ""
	if agent != "" {
		aor = fmt.Sprintf(`,"agent_of_record":%q`, agent)
	}
	m := rec(off, schemas.TypePolicyIssued, id, lead, at, at, fmt.Sprintf(
		`{"policy_id":"P","product_line":"auto","annual_premium":"1200.00","currency":"USD","term_months":1,"effective_date":%q,"sale_type":"installment","jurisdiction":"US-CA"%s,"installment":{"number":%d,"of":12,"premium":"100.00"}}`,
		effective, aor, number))
	m.Value = []byte(strings.Replace(string(m.Value), `"schema_version":1`, `"schema_version":2`, 1))
	return m
}

// TestInstallmentAgentOfRecord holds issue #18 (installments): an
// installment is paid to the policy's agent of record like a renewal, even
// with a touch in the lookback window (which keeps its model weights, none
// under agent_of_record). Before, such a touch took the installment.
func TestInstallmentAgentOfRecord(t *testing.T) {
	t.Parallel()
	h, day := time.Hour, 24*time.Hour
	first := installment(1, "i1", "L", 1, "2026-10-02", "A-7", t0.Add(h))
	tests := []struct {
		name    string
		batches [][]worker.Message
		want    string // the last attribution: paid model, then referrer:weight under it
	}{
		{"first installment, touch in the window", [][]worker.Message{{touch(0, "t1", "L", "A-1", "agent", t0, t0), first}},
			"agent_of_record A-1:0 A-7:10000 "},
		{"later installment remembers the agent", [][]worker.Message{{first},
			{touch(2, "t2", "L", "A-2", "agent", t0.Add(30*day), t0.Add(30*day)), installment(3, "i2", "L", 2, "2026-11-02", "", t0.Add(31*day))}},
			"agent_of_record A-2:0 A-7:10000 "},
		{"agent changed before an installment", [][]worker.Message{{first},
			{agentChanged(2, "ac1", "L", "A-8", "2026-11-01", t0.Add(20*day))}, {installment(3, "i2", "L", 2, "2026-11-02", "", t0.Add(31*day))}},
			"agent_of_record A-8:10000 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAttributor(t)
			var last []byte
			for _, b := range tt.batches {
				for _, r := range run(t, a, b...) {
					for _, out := range r.Out {
						last = out.Value
					}
				}
			}
			_, att := attribution(t, worker.Output{Value: last})
			if got := att.PaidModel + " " + referrers(att, att.PaidModel); got != tt.want {
				t.Errorf("attributed %q, want %q", got, tt.want)
			}
			if att.Policy.Installment == nil || att.Policy.Installment.Premium != "100.00" {
				t.Errorf("attribution lost the installment: %+v", att.Policy)
			}
		})
	}
}

// TestInstallmentCancelled: each installment is its own conversion (its
// own attribution id), and a cancellation names the installment in force
// on its date, the one whose period it falls in: earlier installments
// were earned when collected.
func TestInstallmentCancelled(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	a := newAttributor(t)
	run(t, a, installment(0, "i1", "L", 1, "2026-10-02", "A-7", t0.Add(day)))
	run(t, a, installment(1, "i2", "L", 2, "2026-11-02", "", t0.Add(32*day)))
	res := run(t, a, cancelRec(2, "c1", "L", "P", "2026-11-17", t0.Add(47*day)))
	if len(res) != 1 || len(res[0].Out) != 1 {
		t.Fatalf("cancellation results %+v", res)
	}
	var c schemas.AttributionCancelled
	if err := schemas.Decode(mustPayload(t, res[0].Out[0].Value), &c); err != nil {
		t.Fatal(err)
	}
	if want := wantID("acme", "P", "installment", "2026-11-02"); c.AttributionID != want || c.Policy.Installment == nil || c.Policy.Installment.Number != 2 {
		t.Errorf("cancelled %s (%+v), want installment 2's attribution %s", c.AttributionID, c.Policy.Installment, want)
	}
}

func mustPayload(t *testing.T, v []byte) []byte {
	t.Helper()
	var env schemas.Envelope
	if err := schemas.Decode(v, &env); err != nil {
		t.Fatal(err)
	}
	return env.Payload
}

// TestCancellationReachesEveryConversionInForce: a policy issued as new
// business and then paid in installments has two conversions in force
// during an installment's month: the year's new business and that
// installment. A cancellation in that month claws back the unearned share
// of both; before, it named the installment only and the new business
// commission stood in full for a policy cancelled in its second month.
// Conversions whose period ended before the date (installment 1, an
// earlier year) have nothing unearned and are not named.
func TestCancellationReachesEveryConversionInForce(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	a := newAttributor(t)
	run(t, a, policyV2(0, "nb", "L", "new_business", "2026-10-02", "A-7", t0))
	run(t, a, installment(1, "i1", "L", 1, "2026-10-02", "", t0.Add(day)))
	run(t, a, installment(2, "i2", "L", 2, "2026-11-02", "", t0.Add(32*day)))
	cancel := func(off int64, id, on string) []string {
		var got []string
		for _, r := range run(t, a, cancelRec(off, id, "L", "P", on, t0.Add(47*day))) {
			for _, o := range r.Out {
				var c schemas.AttributionCancelled
				if err := schemas.Decode(mustPayload(t, o.Value), &c); err != nil {
					t.Fatal(err)
				}
				got = append(got, c.AttributionID)
			}
		}
		slices.Sort(got)
		return got
	}
	want := []string{wantID("acme", "P", "installment", "2026-11-02"), wantID("acme", "P", "new_business", "2026-10-02")}
	slices.Sort(want)
	if got := cancel(3, "c1", "2026-11-17"); !slices.Equal(got, want) {
		t.Errorf("cancelled %v, want the new business and installment 2: %v", got, want)
	}
	if got := cancel(4, "c2", "2026-11-17"); len(got) != 0 {
		t.Errorf("a resend forwarded %v again", got)
	}
}
