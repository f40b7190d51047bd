package commission

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// holdMsg is a hold requested by a scheduled fraud rule (as `reftrack fraud
// velocity` sends it) on accrual entry of att-1, received on day at.
func holdMsg(id, entry string, at time.Time) worker.Message {
	m := decideMsg(id, entry, DecisionHold, "rule:velocity@window=24h,max=5", "fraud:velocity")
	var env schemas.Envelope
	_ = json.Unmarshal(m.Value, &env)
	env.OccurredAt, env.ReceivedAt = at, &at
	m.Value, _ = json.Marshal(env)
	return m
}

// TestHoldDecision (issue #18, velocity per referrer): a hold requested
// through the decisions topic posts a hold decision (0, correcting the
// accrual, the request's actor and reason) on the accrual and on each
// override derived from it, and nothing else; a resent request posts
// nothing. A hold only stops money not yet released: on an accrual whose
// hold_until released it into a period before the one the hold posts in
// (a later month, or the hold's own month closed) it is refused, since
// that earlier statement may be paid and a closed period never changes.
func TestHoldDecision(t *testing.T) {
	t.Parallel()
	jan, feb := time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		line  string // testdata/rules.json holds life until 2026-01-31, auto until 2026-01-01
		first []worker.Message
		at    time.Time
		want  string // the decisions posted, or "refused"
	}{
		{"in its holding period", "life", nil, jan, "decision agent:A-1 hold; decision agency:AG-1 hold; decision mga:M-1 hold"},
		{"released in its month, not closed", "auto", nil, jan, "decision agent:A-1 hold; decision agency:AG-1 hold; decision mga:M-1 hold"},
		{"released a month before", "life", nil, feb, "refused"},
		{"its month closed", "life", []worker.Message{closeMsg("acme", "2026-01", leadPartition)}, jan, "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStage(t, rules(t))
			premium := map[string]string{"life": "10000.00", "auto": "1000.00"}[tt.line]
			accrued := journalOf(t, s.batch(attMsg(tt.line, "new_business", premium, 1, lifePolicy...)))
			agent := accrualOf(t, accrued, "agent:A-1")
			if len(tt.first) > 0 {
				s.batch(tt.first...)
			}
			res := s.batch(holdMsg("h-1", agent.EntryID, tt.at))
			if tt.want == "refused" {
				if !worker.IsPermanent(res[0].Err) || !strings.Contains(res[0].Err.Error(), CodeBadDecision) || !strings.Contains(res[0].Err.Error(), "released in 2026-01") {
					t.Fatalf("hold on a released accrual: %v, want %s: released in 2026-01", res[0].Err, CodeBadDecision)
				}
				return
			}
			if res[0].Err != nil {
				t.Fatalf("hold refused: %v", res[0].Err)
			}
			posted := journalOf(t, res)
			var got []string
			for _, e := range posted {
				got = append(got, e.Kind+" "+e.PayeeType+":"+e.PayeeID+" "+e.Decision)
				if e.AmountMinor != 0 || e.Actor != "rule:velocity@window=24h,max=5" || e.Reason != "fraud:velocity" ||
					e.Corrects != accrualOf(t, accrued, e.PayeeType+":"+e.PayeeID).EntryID {
					t.Errorf("hold entry %+v", e)
				}
			}
			if strings.Join(got, "; ") != tt.want {
				t.Errorf("posted %q, want %q", strings.Join(got, "; "), tt.want)
			}
			if again := journalOf(t, s.batch(holdMsg("h-1", agent.EntryID, tt.at))); len(again) != 0 {
				t.Errorf("resent hold posted %s", describeEntries(again))
			}
			if got := Status(Facts{HoldUntil: agent.HoldUntil, HeldFor: "fraud:velocity"}, "2027-01-01"); got != StatusHeld {
				t.Errorf("held accrual after its hold_until: %s, want held", got)
			}
		})
	}
}
