package dedupe

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/internal/workertest"
)

// newStage returns a Deduper on the real Redis and the harness that runs
// its batches as the runtime does (changelog on kfake, commit or abort).
func newStage(t testing.TB) (*Deduper, *workertest.State) {
	t.Helper()
	rdb, prefix := testenv.Redis(t)
	d := &Deduper{Redis: rdb, Prefix: prefix, TTL: time.Hour, Metrics: NewMetrics(prometheus.NewRegistry())}
	return d, workertest.NewState(t, "dedupe", rdb, prefix)
}

// ev is one input event: a referral.created, or a referral.status_updated
// when status is set.
type ev struct {
	partner, lead, id, idem, status string
}

func (e ev) value() []byte {
	idem := ""
	if e.idem != "" {
		idem = fmt.Sprintf(`"idempotency_key":%q,`, e.idem)
	}
	typ, payload := "referral.created", "{}"
	if e.status != "" {
		typ, payload = "referral.status_updated", fmt.Sprintf(`{"status":%q}`, e.status)
	}
	return fmt.Appendf(nil, `{"event_id":%q,"event_type":%q,"schema_version":1,"occurred_at":"2026-11-01T10:00:00Z",%s"partner_id":%q,"lead_id":%q,"payload":%s}`,
		e.id, typ, idem, e.partner, e.lead, payload)
}

// at places e at an offset of a partition of referrals.valid.
func (e ev) at(part int32, off int64) worker.Message {
	return worker.Message{Topic: "referrals.valid", Partition: part, Offset: off, Value: e.value()}
}

// batchAt places events at consecutive offsets from off.
func batchAt(part int32, off int64, evs ...ev) []worker.Message {
	b := make([]worker.Message, len(evs))
	for i, e := range evs {
		b[i] = e.at(part, off+int64(i))
	}
	return b
}

// outcome spells each result: P passed, D dropped as a duplicate, R
// rejected (dead letter), E an error that would abort the batch.
func outcome(res []worker.Result) string {
	s := ""
	for _, r := range res {
		switch {
		case r.Err != nil && worker.IsPermanent(r.Err):
			s += "R"
		case r.Err != nil:
			s += "E"
		case len(r.Out) == 1:
			s += "P"
		default:
			s += "D"
		}
	}
	return s
}

// TestRedisLossKeepsClaimsAndStatuses holds issue #14 finding 1 (dedupe
// part): after a Redis restart, resent duplicates (same idempotency key with
// a new event id, or the same event id) got through and lead statuses were
// forgotten. Claims and statuses now come back from the changelog.
func TestRedisLossKeepsClaimsAndStatuses(t *testing.T) {
	t.Parallel()
	first := batchAt(1, 0,
		ev{partner: "acme", lead: "L1", id: "e1", idem: "k1"},
		ev{partner: "acme", lead: "L2", id: "e2"},
		ev{partner: "acme", lead: "L1", id: "s1", status: "new"},
		ev{partner: "acme", lead: "L1", id: "s2", status: "lost"},
	)
	resent := batchAt(1, 4,
		ev{partner: "acme", lead: "L1", id: "e1-resent", idem: "k1"},   // same idempotency key, new event id
		ev{partner: "acme", lead: "L2", id: "e2"},                      // same event id
		ev{partner: "acme", lead: "L1", id: "s3", status: "contacted"}, // after lost: illegal
		ev{partner: "acme", lead: "L1", id: "s2", status: "lost"},      // a status event resent
		ev{partner: "acme", lead: "L3", id: "e3"},                      // new: still passes
		ev{partner: "beta", lead: "L1", id: "b1", status: "contacted"}, // beta's L1 is another lead
	)
	tests := []struct {
		name    string
		restart bool // a new process (or owner) after the loss, knowing nothing
	}{
		{"same process", false},
		{"new owner", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			d, h := newStage(t)
			res, err := h.Batch(ctx, d, first)
			if err != nil {
				t.Fatal(err)
			}
			if got := outcome(res); got != "PPPP" {
				t.Fatalf("first batch: %s, want PPPP", got)
			}
			h.LoseRedis(ctx)
			if tt.restart {
				h.Restart()
			}
			if res, err = h.Batch(ctx, d, resent); err != nil {
				t.Fatal(err)
			}
			if got, want := outcome(res), "DDRDPP"; got != want {
				t.Errorf("after losing redis: %s, want %s (idempotency-key and event-id copies dropped, contacted after lost rejected)", got, want)
			}
		})
	}
}

// TestAbortedBatchRedoneDecidesAlike: an aborted batch leaves nothing
// behind, so its redo decides exactly as the first attempt, and what the
// redo commits is what later batches see.
func TestAbortedBatchRedoneDecidesAlike(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, h := newStage(t)
	batch2 := batchAt(0, 2,
		ev{partner: "acme", lead: "L", id: "s2", status: "contacted"},
		ev{partner: "acme", lead: "L", id: "s3", status: "quoted"},
		ev{partner: "acme", lead: "L", id: "s4", status: "new"}, // back to new: illegal
		ev{partner: "acme", lead: "L", id: "e1-copy", idem: "k"},
		ev{partner: "acme", lead: "M", id: "e5"},
	)
	steps := []struct {
		name  string
		abort bool
		batch []worker.Message
		want  string
	}{
		{"committed", false, batchAt(0, 0, ev{partner: "acme", lead: "L", id: "s1", status: "new"}, ev{partner: "acme", lead: "L", id: "e1", idem: "k"}), "PP"},
		{"aborted", true, batch2, "PPRDP"},
		// Had the aborted attempt left quoted behind, contacted would now
		// be a step back.
		{"redo", false, batch2, "PPRDP"},
		{"after the redo", false, batchAt(0, 7,
			ev{partner: "acme", lead: "M", id: "e5"},
			ev{partner: "acme", lead: "L", id: "s5", status: "contacted"},
			ev{partner: "acme", lead: "L", id: "s6", status: "applied"},
		), "DRP"},
	}
	for _, s := range steps {
		run := h.Batch
		if s.abort {
			run = h.Aborted
		}
		res, err := run(ctx, d, s.batch)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := outcome(res); got != s.want {
			t.Errorf("%s: %s, want %s", s.name, got, s.want)
		}
	}
}
