package dedupe

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/reftrack/reftrack/internal/worker"
)

// An event id (or idempotency key) reused for different content is not a
// duplicate to drop in silence: it is a partner's bug that loses an event.
// It becomes a dead letter saying so, and the seed's referral-ID collision
// metric counts it. A true resend (same content, even with another
// received_at or a new event id under the same idempotency key) stays a
// duplicate.
func TestIDReusedForOtherContentIsACollision(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, h := newStage(t)
	first := []worker.Message{
		ev{partner: "acme", lead: "L1", id: "e1"}.at(0, 0),
		ev{partner: "acme", lead: "L2", id: "e2", idem: "k2"}.at(0, 1),
	}
	if res, err := h.Batch(ctx, d, first); err != nil || outcome(res) != "PP" {
		t.Fatalf("first batch %s, %v", outcome(res), err)
	}
	resent := ev{partner: "acme", lead: "L1", id: "e1"}.at(0, 2)
	resent.Value = []byte(strings.Replace(string(resent.Value), `"schema_version":1,`, `"schema_version":1,"received_at":"2026-11-02T00:00:00Z",`, 1))
	second := []worker.Message{
		resent, // the same event again, received later: a duplicate
		ev{partner: "acme", lead: "L9", id: "e1"}.at(0, 3),                             // e1 again, for another lead: a collision
		ev{partner: "acme", lead: "L2", id: "e3", idem: "k2"}.at(0, 4),                 // k2 resent under a new event id: a duplicate
		ev{partner: "acme", lead: "L2", id: "e4", idem: "k2", status: "lost"}.at(0, 5), // k2 for other content: a collision
		ev{partner: "beta", lead: "L9", id: "e1"}.at(0, 6),                             // another partner's e1: its own
	}
	res, err := h.Batch(ctx, d, second)
	if err != nil {
		t.Fatal(err)
	}
	if got := outcome(res); got != "DRDRP" {
		t.Fatalf("outcomes %s, want DRDRP", got)
	}
	for i, code := range map[int]string{1: CodeEventIDReused, 3: CodeIdempotencyKeyReused} {
		var rej *worker.RejectError
		if !errors.As(res[i].Err, &rej) || rej.Reasons[0].Code != code || !strings.Contains(rej.Reasons[0].Message, "referrals.valid/0/") {
			t.Errorf("record %d: %v, want %s naming the first record", i, res[i].Err, code)
		}
	}
	if n := testutil.ToFloat64(d.Metrics.collisions); n != 2 {
		t.Errorf("collisions metric %v, want 2", n)
	}
}
