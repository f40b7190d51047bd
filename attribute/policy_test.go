package attribute

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// TestEarlyCancellationParked holds issue #13 (a cancellation that arrives
// before its issue): the policy.cancelled is parked in the lead's durable
// state and, when the policy.issued arrives, the stage emits exactly the
// records an in-order arrival would have (the attribution, then the
// attribution.cancelled under cancellationID(attribution id, cancelled_on)
// naming the cancellation's own event id and times), so commission claws
// back. Before, the early cancellation was counted and dropped and the
// issue was paid in full.
func TestEarlyCancellationParked(t *testing.T) {
	t.Parallel()
	h := time.Hour
	tp := touch(0, "t1", "L", "A-1", "agent", t0, t0)
	issue := policy(1, "p1", "L", "auto", t0.Add(h))
	at := t0.Add(48 * h)
	cancel := cancelRec(2, "c1", "L", "P", "2026-12-01", at)
	resend := cancelRec(3, "c1-resent", "L", "P", "2026-12-01", at.Add(h))
	otherDate := cancelRec(4, "c2", "L", "P", "2026-12-02", at.Add(2*h))
	betaIssue := forPartner("beta", policy(5, "p1", "L", "auto", t0.Add(h)))
	tests := []struct {
		name    string
		early   [][]worker.Message // the cancellations arrive before the issue
		lose    bool               // Redis loses everything before early's last batch
		abort   bool               // early's first batch runs once in an aborted transaction first
		inOrder [][]worker.Message // the same records in the order they happened
		parked  float64            // cancellations parked
	}{
		{"own batch", [][]worker.Message{{tp, cancel}, {issue}}, false, false,
			[][]worker.Message{{tp, issue}, {cancel}}, 1},
		{"one batch", [][]worker.Message{{tp, cancel, issue}}, false, false,
			[][]worker.Message{{tp, issue, cancel}}, 1},
		{"across Redis loss", [][]worker.Message{{tp, cancel}, {issue}}, true, false,
			[][]worker.Message{{tp, issue}, {cancel}}, 1},
		{"after an aborted batch", [][]worker.Message{{tp, cancel, issue}}, false, true,
			[][]worker.Message{{tp, issue, cancel}}, 2}, // the aborted attempt counted too
		{"resent while parked", [][]worker.Message{{tp, cancel}, {resend}, {issue}}, false, false,
			[][]worker.Message{{tp, issue}, {cancel}, {resend}}, 1},
		{"resent after the issue", [][]worker.Message{{tp, cancel}, {issue}, {resend}}, false, false,
			[][]worker.Message{{tp, issue}, {cancel}, {resend}}, 1},
		{"two dates", [][]worker.Message{{tp, cancel, otherDate}, {issue}}, false, false,
			[][]worker.Message{{tp, issue}, {cancel}, {otherDate}}, 2},
		// beta's policy P of its lead L never takes acme's parked
		// cancellation of acme's L/P.
		{"another partner's issue", [][]worker.Message{{tp, cancel}, {betaIssue}, {issue}}, false, false,
			[][]worker.Message{{tp}, {betaIssue}, {issue}, {cancel}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := runAll(t, newAttributor(t), tt.inOrder, false)
			a := newAttributor(t)
			if tt.abort {
				aborted(t, a, tt.early[0]...)
			}
			if got := runAll(t, a, tt.early, tt.lose); got != want {
				t.Errorf("early cancellation emitted:\n%s\nwant (in order):\n%s", got, want)
			}
			if n := testutil.ToFloat64(a.Metrics.parked); n != tt.parked {
				t.Errorf("parked_cancellations_total = %v, want %v", n, tt.parked)
			}
		})
	}
}

// runAll runs batches one after the other and returns every record they
// emitted, in order; with lose, Redis loses everything before the last.
func runAll(t *testing.T, a stage, batches [][]worker.Message, lose bool) string {
	t.Helper()
	var results [][]worker.Result
	for i, b := range batches {
		if lose && i == len(batches)-1 {
			a.h.LoseRedis(context.Background())
		}
		results = append(results, run(t, a, b...))
	}
	return outputs(results...)
}

// policyV2 is a policy.issued v2 of policy P: jurisdiction US-CA and, when
// agent is not empty, an agent of record.
func policyV2(off int64, id, lead, saleType, effective, agent string, at time.Time) worker.Message {
	aor := ""
	if agent != "" {
		aor = fmt.Sprintf(`,"agent_of_record":%q`, agent)
	}
	m := rec(off, schemas.TypePolicyIssued, id, lead, at, at, fmt.Sprintf(
		`{"policy_id":"P","product_line":"auto","annual_premium":"100.00","currency":"USD","term_months":12,"effective_date":%q,"sale_type":%q,"jurisdiction":"US-CA"%s}`,
		effective, saleType, aor))
	m.Value = []byte(strings.Replace(string(m.Value), `"schema_version":1`, `"schema_version":2`, 1))
	return m
}

func agentChanged(off int64, id, lead, agent, effective string, at time.Time) worker.Message {
	return rec(off, schemas.TypePolicyAgentChanged, id, lead, at, at,
		fmt.Sprintf(`{"policy_id":"P","agent_of_record":%q,"effective_date":%q}`, agent, effective))
}

// TestAgentOfRecord holds issue #18 (renewals are never paid): a renewal,
// or any issue no touch is credited for, is attributed to the policy's
// agent of record with weight 10000 under the paid model agent_of_record.
// The agent comes from the issue (policy.issued v2) or else from what the
// lead's policy state remembers of the first issue, changed for later
// terms by policy.agent_changed. Before, such a renewal was unattributed
// and paid nobody.
func TestAgentOfRecord(t *testing.T) {
	t.Parallel()
	h, year := time.Hour, 365*24*time.Hour
	oldTouch := touch(0, "t1", "L", "A-1", "agent", t0, t0)
	newBusiness := policyV2(1, "p1", "L", "new_business", "2026-10-02", "A-7", t0.Add(h))
	renewalV1 := renewal(2, "p2", "L", t0.Add(year)) // effective 2027-10-02, no agent named
	tests := []struct {
		name    string
		batches [][]worker.Message
		lose    bool   // Redis loses everything before the last batch
		want    string // the last attribution: paid model, then referrer:weight under it
	}{
		{"v1 renewal, no agent known", [][]worker.Message{{oldTouch, policy(1, "p1", "L", "auto", t0.Add(h))}, {renewalV1}}, false,
			"last_touch "},
		{"new business with a touch pays the touch", [][]worker.Message{{oldTouch, newBusiness}}, false,
			"last_touch A-1:10000 "},
		{"new business with no touch", [][]worker.Message{{newBusiness}}, false,
			"agent_of_record A-7:10000 "},
		{"renewal names its agent", [][]worker.Message{{policyV2(2, "p2", "L", "renewal", "2027-10-02", "A-9", t0.Add(year))}}, false,
			"agent_of_record A-9:10000 "},
		{"renewal remembers the first issue's agent", [][]worker.Message{{oldTouch, newBusiness}, {renewalV1}}, false,
			"agent_of_record A-7:10000 "},
		{"across Redis loss", [][]worker.Message{{oldTouch, newBusiness}, {renewalV1}}, true,
			"agent_of_record A-7:10000 "},
		{"renewal with a touch in the window", [][]worker.Message{{oldTouch, newBusiness},
			{touch(3, "t2", "L", "A-2", "agent", t0.Add(year-h), t0.Add(year-h)), renewalV1}}, false,
			"agent_of_record A-2:0 A-7:10000 "},
		{"agent changed before the renewal", [][]worker.Message{{oldTouch, newBusiness},
			{agentChanged(3, "ac1", "L", "A-8", "2027-06-01", t0.Add(200*24*h))}, {renewalV1}}, false,
			"agent_of_record A-8:10000 "},
		{"agent changed after the renewal's term began", [][]worker.Message{{oldTouch, newBusiness},
			{agentChanged(3, "ac1", "L", "A-8", "2028-01-01", t0.Add(200*24*h))}, {renewalV1}}, false,
			"agent_of_record A-7:10000 "},
		{"agent changed with no agent before", [][]worker.Message{{oldTouch, policy(1, "p1", "L", "auto", t0.Add(h))},
			{agentChanged(3, "ac1", "L", "A-8", "2027-06-01", t0.Add(200*24*h))}, {renewalV1}}, false,
			"agent_of_record A-8:10000 "},
		// beta's lead L has a policy P too: its agent and its change
		// never reach acme's.
		{"another partner's agent", [][]worker.Message{{oldTouch, newBusiness,
			forPartner("beta", policyV2(4, "p1", "L", "new_business", "2026-10-02", "B-1", t0.Add(h))),
			forPartner("beta", agentChanged(5, "ac1", "L", "B-2", "2027-06-01", t0.Add(200*24*h)))}, {renewalV1}}, false,
			"agent_of_record A-7:10000 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAttributor(t)
			var last []byte
			for i, b := range tt.batches {
				if tt.lose && i == len(tt.batches)-1 {
					a.h.LoseRedis(context.Background())
				}
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
		})
	}
}

// TestPolicyV2RoundTrip: the attribution carries a v2 policy's jurisdiction
// and agent of record on to commission, and a v1 policy exactly as before.
func TestPolicyV2RoundTrip(t *testing.T) {
	t.Parallel()
	a := newAttributor(t)
	res := run(t, a, policy(0, "p0", "L0", "auto", t0), policyV2(1, "p1", "L1", "new_business", "2026-10-02", "A-7", t0))
	if len(res[0].Out) != 1 || len(res[1].Out) != 1 {
		t.Fatalf("results %+v", res)
	}
	if v1 := string(res[0].Out[0].Value); strings.Contains(v1, "jurisdiction") || strings.Contains(v1, "agent_of_record") {
		t.Errorf("v1 attribution grew v2 fields: %s", v1)
	}
	_, att := attribution(t, res[1].Out[0])
	if att.Policy.Jurisdiction != "US-CA" || att.Policy.AgentOfRecord != "A-7" {
		t.Errorf("v2 policy in the attribution: %+v", att.Policy)
	}
}
