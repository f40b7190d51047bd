package commission

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// closeMsg closes period for partner on input partition part, as the
// close-period command writes it.
func closeMsg(partner, period string, part int32) worker.Message {
	payload, _ := json.Marshal(schemas.PeriodClosed{Period: period, RequestID: "close-" + period, Actor: "ops"})
	at := time.Date(2026, 2, 1, 6, 0, 0, 0, time.UTC)
	b, _ := json.Marshal(schemas.Envelope{EventID: "close-" + partner + "-" + period, EventType: schemas.TypePeriodClosed, SchemaVersion: 1,
		OccurredAt: at, ReceivedAt: &at, PartnerID: partner, LeadID: "period_close:" + period, Payload: payload})
	return worker.Message{Partition: part, Key: schemas.LeadKey(partner, "period_close:"+period), Value: b}
}

// januaryCancel is a cancellation of att-1 received in January 2026, so its
// natural period is 2026-01.
func januaryCancel(id, on string) worker.Message {
	m := cancelMsg(id, "att-1", on)
	var env schemas.Envelope
	_ = json.Unmarshal(m.Value, &env)
	at := time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC)
	env.OccurredAt, env.ReceivedAt = at, &at
	m.Value, _ = json.Marshal(env)
	return m
}

// TestClosedPeriodNeverChanges (issue #13: a re-run of a closed period
// after a late correction paid a new total): once a period is closed for a
// partner on a partition, entries whose own period it is (a cancellation, a
// late touch's new version) post in the first open period after it, and
// the closed period's sum stays what it was at the close.
func TestClosedPeriodNeverChanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		closes []worker.Message
		want   string // period the corrections post in
	}{
		{"not closed", nil, "2026-01"},
		{"closed for the partner", []worker.Message{closeMsg("acme", "2026-01", leadPartition)}, "2026-02"},
		{"closed for every partner", []worker.Message{closeMsg(schemas.AllPartners, "2026-01", leadPartition)}, "2026-02"},
		{"closed twice, then the next month", []worker.Message{closeMsg("acme", "2026-01", leadPartition),
			closeMsg("acme", "2026-01", leadPartition), closeMsg("acme", "2026-02", leadPartition)}, "2026-03"},
		{"closed for another partner", []worker.Message{closeMsg("other", "2026-01", leadPartition)}, "2026-01"},
		{"closed on another partition only", []worker.Message{closeMsg("acme", "2026-01", leadPartition+1)}, "2026-01"},
		{"a later month closed", []worker.Message{closeMsg("acme", "2026-02", leadPartition)}, "2026-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStage(t, rules(t))
			l := newLedger(t)
			l.add(s.batch(attMsg("life", "new_business", "10000.00", 1, lifePolicy...)))
			january := periodSums(l)["2026-01"]
			for _, res := range s.batch(tt.closes...) {
				if res.Err != nil || len(res.Out) != 0 {
					t.Fatalf("close: %+v", res)
				}
			}
			later := l.add(s.batch(januaryCancel("cancel-1", "2026-07-02"),
				attMsg("life", "new_business", "10000.00", 2, tp{"A-1", "agent", 5000}, tp{"B-1", "broker", 5000})))
			if len(later) == 0 {
				t.Fatal("the corrections posted nothing")
			}
			for _, p := range later {
				if p.Period != tt.want {
					t.Errorf("%s %s %d posted in %s, want %s", p.Kind, p.payee(), p.AmountMinor, p.Period, tt.want)
				}
			}
			if tt.want != "2026-01" && periodSums(l)["2026-01"] != january {
				t.Errorf("closed 2026-01 sums to %d, was %d at the close", periodSums(l)["2026-01"], january)
			}
		})
	}
}

// TestPeriodCloseRefused: a close without a period or partner is a dead
// letter, not a silent no-op.
func TestPeriodCloseRefused(t *testing.T) {
	t.Parallel()
	s := newStage(t, rules(t))
	for _, m := range []worker.Message{closeMsg("acme", "2026-1", 0), closeMsg("acme", "", 0), closeMsg("", "2026-01", 0)} {
		if res := s.batch(m); !worker.IsPermanent(res[0].Err) {
			t.Errorf("close %s: %v, want a rejection", m.Key, res[0].Err)
		}
	}
}

func periodSums(l *ledger) map[string]int64 {
	sums := map[string]int64{}
	for _, p := range l.byID {
		sums[p.Period] += p.AmountMinor
	}
	return sums
}
