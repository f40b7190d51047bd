package dedupe

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

func TestKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  schemas.Envelope
		want string
	}{
		{schemas.Envelope{EventID: "e1", PartnerID: "acme"}, "eid:acme|e1"},
		{schemas.Envelope{EventID: "e1", PartnerID: "beta"}, "eid:beta|e1"},
		{schemas.Envelope{EventID: "e1", PartnerID: "acme", IdempotencyKey: "k"}, "idem:acme|k"},
		{schemas.Envelope{EventID: "e2", PartnerID: "beta", IdempotencyKey: "k"}, "idem:beta|k"},
	}
	for _, tt := range tests {
		if got := Key(&tt.env); got != tt.want {
			t.Errorf("Key(%+v) = %q, want %q", tt.env, got, tt.want)
		}
	}
}

// TestReplaySafe is the trap DESIGN.md warns about: a batch redone after an
// aborted transaction, or re-consumed after its claims committed, must pass
// again, while copies at other offsets stay duplicates.
func TestReplaySafe(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, h := newStage(t)
	batch := batchAt(2, 0,
		ev{partner: "acme", lead: "L-a", id: "a"},
		ev{partner: "acme", lead: "L-a", id: "a"},             // same event_id: duplicate
		ev{partner: "acme", lead: "L-b", id: "b", idem: "k1"}, // idempotency key wins over event_id
		ev{partner: "acme", lead: "L-b", id: "c", idem: "k1"}, // same partner and key: duplicate
		ev{partner: "beta", lead: "L-b", id: "d", idem: "k1"}, // same key, other partner: unique
	)
	batch = append(batch, worker.Message{Topic: "referrals.valid", Partition: 2, Offset: 5, Value: []byte("not json")})
	rounds := []struct {
		name  string
		abort bool
	}{
		{"aborted", true},
		{"redo", false},
		{"re-consumed after commit", false}, // finds its own claims
	}
	for _, r := range rounds {
		run := h.Batch
		if r.abort {
			run = h.Aborted
		}
		res, err := run(ctx, d, batch)
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		if got := outcome(res); got != "PDPDPR" {
			t.Errorf("%s: %s, want PDPDPR", r.name, got)
		}
		for i, rr := range res {
			if len(rr.Out) == 1 && (rr.Out[0].Topic != schemas.TopicUnique || string(rr.Out[0].Value) != string(batch[i].Value)) {
				t.Errorf("%s record %d: output %+v", r.name, i, rr.Out[0])
			}
		}
	}
	// A later copy at a new offset is a duplicate even of a passed event.
	res, err := h.Batch(ctx, d, batchAt(2, 99, ev{partner: "acme", lead: "L-a", id: "a"}))
	if err != nil || outcome(res) != "D" {
		t.Errorf("late copy: %s, %v; want D", outcome(res), err)
	}
	keys, err := h.Redis.Keys(ctx, h.Prefix+"*claim:eid:acme|a").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("claim keys of acme|a: %v, %v; want one", keys, err)
	}
	if held, err := h.Redis.Get(ctx, keys[0]).Result(); err != nil || !strings.HasPrefix(held, "referrals.valid/2/0#") {
		t.Errorf("claim = %q, %v; want owner referrals.valid/2/0 and a fingerprint", held, err)
	}
	ttl, err := h.Redis.PTTL(ctx, keys[0]).Result()
	if err != nil || ttl <= 0 || ttl > time.Hour {
		t.Errorf("claim TTL = %v, %v; want within (0, 1h]", ttl, err)
	}
}

// TestTenantScopedClaims holds issue #11 finding 2: an event id means
// nothing without its partner, so partner beta using acme's event id first
// must not make acme's event vanish, and each passes keyed by its own
// tenant-scoped lead.
func TestTenantScopedClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, h := newStage(t)
	x := func(partner string) ev { return ev{partner: partner, lead: "L-x", id: "x"} }
	y := func(partner string) ev { return ev{partner: partner, lead: "L-y", id: "y"} }
	tests := []struct {
		name    string
		batch   []worker.Message
		wantKey []string // "" = dropped as a duplicate
	}{
		{"beta first, own batch", batchAt(0, 0, x("beta")), []string{"beta|L-x"}},
		{"acme same id later", batchAt(0, 1, x("acme")), []string{"acme|L-x"}},
		{"both in one batch", batchAt(0, 2, y("beta"), y("acme")), []string{"beta|L-y", "acme|L-y"}},
		{"acme's own copy stays a duplicate", batchAt(0, 4, x("acme")), []string{""}},
	}
	for _, tt := range tests { // in order: each step sees the claims of the ones before
		res, err := h.Batch(ctx, d, tt.batch)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		for i, r := range res {
			got := ""
			if r.Err != nil {
				t.Fatalf("%s record %d: %v", tt.name, i, r.Err)
			}
			if len(r.Out) == 1 {
				got = string(r.Out[0].Key)
			}
			if got != tt.wantKey[i] {
				t.Errorf("%s record %d: key %q, want %q", tt.name, i, got, tt.wantKey[i])
			}
		}
	}
}

// TestProcessBatchRefuses: deciding outside the runtime's state would lose
// it, so the plain Processor entry point says so instead of guessing.
func TestProcessBatchRefuses(t *testing.T) {
	t.Parallel()
	d := &Deduper{}
	if _, err := d.ProcessBatch(context.Background(), batchAt(0, 0, ev{partner: "acme", lead: "L", id: "e"})); err == nil {
		t.Error("ProcessBatch decided without state")
	}
}

func BenchmarkProcessState(b *testing.B) {
	d, h := newStage(b)
	evs := make([]ev, 1000)
	for i := range evs {
		evs[i] = ev{partner: "acme", lead: fmt.Sprintf("L%d", i%50), id: fmt.Sprintf("e%d", i)}
	}
	batch := batchAt(0, 0, evs...)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		// Every round after the first finds its own claims: reads only.
		if _, err := h.Batch(ctx, d, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkKey(b *testing.B) {
	env := schemas.Envelope{EventID: "0b6c8b8e-8f4e-4a53-9d53-1f7a2d4f7c11", PartnerID: "acme", IdempotencyKey: "idem-123"}
	b.ReportAllocs()
	for b.Loop() {
		_ = Key(&env)
	}
}
