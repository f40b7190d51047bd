package dedupe

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/internal/worker"
)

func TestTransition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		from, to string
		ok       bool
	}{
		{"", "quoted", true}, {"new", "contacted", true}, {"contacted", "applied", true}, {"applied", "bound", true},
		{"quoted", "quoted", true}, {"quoted", "lost", true}, {"new", "lost", true},
		{"bound", "contacted", false}, {"quoted", "new", false}, {"lost", "contacted", false}, {"bound", "lost", false}, {"lost", "lost", true},
	}
	for _, tt := range tests {
		if got := Transition(tt.from, tt.to); got != tt.ok {
			t.Errorf("Transition(%q, %q) = %v, want %v", tt.from, tt.to, got, tt.ok)
		}
	}
}

func status(off int64, id, lead, s string) worker.Message {
	return partnerStatus(off, "acme", id, lead, s)
}

func partnerStatus(off int64, partner, id, lead, s string) worker.Message {
	v := fmt.Sprintf(`{"event_id":%q,"event_type":"referral.status_updated","schema_version":1,"occurred_at":"2026-11-01T10:00:00Z","partner_id":%q,"lead_id":%q,"payload":{"status":%q}}`, id, partner, lead, s)
	return worker.Message{Topic: "referrals.valid", Partition: 0, Offset: off, Value: []byte(v)}
}

// TestLifecycle: illegal steps are rejected, duplicates are dropped (not
// rejected), and a redone batch decides exactly as the first attempt.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	rdb, prefix := testenv.Redis(t)
	d := &Deduper{Redis: rdb, Prefix: prefix, TTL: time.Hour, Metrics: NewMetrics(prometheus.NewRegistry())}
	ctx := context.Background()
	outcome := func(res []worker.Result) string {
		s := ""
		for _, r := range res {
			switch {
			case r.Err != nil:
				s += "R"
			case len(r.Out) == 1:
				s += "P"
			default:
				s += "D"
			}
		}
		return s
	}
	b1 := []worker.Message{status(0, "s0", "L", "new"), status(1, "s1", "L", "quoted"), status(2, "s2", "L", "contacted"), status(3, "s0", "L", "new")}
	for round := range 2 { // round 1 replays after an abort
		res, err := d.ProcessBatch(ctx, b1)
		if err != nil {
			t.Fatal(err)
		}
		if got := outcome(res); got != "PPRD" {
			t.Errorf("round %d: %s, want pass, pass, reject (quoted → contacted), duplicate", round, got)
		}
	}
	res, err := d.ProcessBatch(ctx, []worker.Message{status(4, "s4", "L", "bound"), status(5, "s5", "L", "lost"), status(6, "s6", "M", "lost")})
	if err != nil {
		t.Fatal(err)
	}
	if got := outcome(res); got != "PRP" {
		t.Errorf("batch 2: %s, want bound passes, bound → lost rejected, another lead unaffected", got)
	}
}

// TestLifecycleTenantScoped holds issue #11 finding 1: partner beta using a
// lead id of acme's cannot move acme's lead, neither inside one batch nor
// through the status history kept in Redis.
func TestLifecycleTenantScoped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		batches [][]worker.Message
		want    string // outcome of the last batch: P pass, R reject
	}{
		{"across batches", [][]worker.Message{
			{partnerStatus(0, "acme", "a0", "L", "new"), partnerStatus(1, "beta", "b1", "L", "lost")},
			{partnerStatus(2, "acme", "a2", "L", "contacted"), partnerStatus(3, "beta", "b3", "L", "contacted")},
		}, "PR"},
		{"in one batch", [][]worker.Message{
			{partnerStatus(0, "acme", "a0", "L", "new"), partnerStatus(1, "beta", "b1", "L", "lost"),
				partnerStatus(2, "acme", "a2", "L", "contacted"), partnerStatus(3, "beta", "b3", "L", "contacted")},
		}, "PPPR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rdb, prefix := testenv.Redis(t)
			d := &Deduper{Redis: rdb, Prefix: prefix, TTL: time.Hour, Metrics: NewMetrics(prometheus.NewRegistry())}
			var res []worker.Result
			for _, b := range tt.batches {
				var err error
				if res, err = d.ProcessBatch(context.Background(), b); err != nil {
					t.Fatal(err)
				}
			}
			got := ""
			for _, r := range res {
				if r.Err != nil {
					got += "R"
				} else {
					got += "P"
				}
			}
			if got != tt.want {
				t.Errorf("last batch %s, want %s (beta's lost is beta's lead only)", got, tt.want)
			}
		})
	}
}
