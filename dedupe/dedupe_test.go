package dedupe

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reftrack/reftrack/internal/testenv"
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

func event(id, partner, idem string) []byte {
	idemField := ""
	if idem != "" {
		idemField = fmt.Sprintf(`"idempotency_key":%q,`, idem)
	}
	return fmt.Appendf(nil, `{"event_id":%q,"event_type":"referral.created","schema_version":1,"occurred_at":"2026-11-01T10:00:00Z",%s"partner_id":%q,"lead_id":"L-%s","payload":{}}`,
		id, idemField, partner, id)
}

// TestReplaySafe is the trap DESIGN.md warns about: a batch redone after an
// aborted transaction must find its own claims and pass again, while copies
// at other offsets stay duplicates.
func TestReplaySafe(t *testing.T) {
	t.Parallel()
	rdb, prefix := testenv.Redis(t)
	d := &Deduper{Redis: rdb, Prefix: prefix, TTL: time.Hour, Metrics: NewMetrics(prometheus.NewRegistry())}
	msg := func(off int64, v []byte) worker.Message {
		return worker.Message{Topic: "referrals.valid", Partition: 2, Offset: off, Value: v}
	}
	batch := []worker.Message{
		msg(0, event("a", "acme", "")),
		msg(1, event("a", "acme", "")),   // same event_id: duplicate
		msg(2, event("b", "acme", "k1")), // idempotency key wins over event_id
		msg(3, event("c", "acme", "k1")), // same partner and key: duplicate
		msg(4, event("d", "beta", "k1")), // same key, other partner: unique
		msg(5, []byte("not json")),
	}
	want := []string{"pass", "dup", "pass", "dup", "pass", "reject"}
	ctx := context.Background()
	for round := range 2 { // round 1 is the replay after an abort
		res, err := d.ProcessBatch(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			got := "dup"
			switch {
			case r.Err != nil && worker.IsPermanent(r.Err):
				got = "reject"
			case r.Err != nil:
				t.Fatalf("round %d record %d: transient error %v", round, i, r.Err)
			case len(r.Out) == 1:
				got = "pass"
				if r.Out[0].Topic != schemas.TopicUnique || string(r.Out[0].Value) != string(batch[i].Value) {
					t.Errorf("round %d record %d: output %+v", round, i, r.Out[0])
				}
			}
			if got != want[i] {
				t.Errorf("round %d record %d: %s, want %s", round, i, got, want[i])
			}
		}
	}
	// A later copy at a new offset is a duplicate even of a passed event.
	res, err := d.ProcessBatch(ctx, []worker.Message{msg(99, event("a", "acme", ""))})
	if err != nil || len(res[0].Out) != 0 {
		t.Errorf("late copy passed: %+v, %v", res, err)
	}
	ttl, err := rdb.PTTL(ctx, prefix+"dedupe:eid:acme|a").Result()
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
	rdb, prefix := testenv.Redis(t)
	d := &Deduper{Redis: rdb, Prefix: prefix, TTL: time.Hour, Metrics: NewMetrics(prometheus.NewRegistry())}
	msg := func(off int64, v []byte) worker.Message {
		return worker.Message{Topic: "referrals.valid", Partition: 0, Offset: off, Value: v}
	}
	tests := []struct {
		name    string
		batch   []worker.Message
		wantKey []string // "" = dropped as a duplicate
	}{
		{"beta first, own batch", []worker.Message{msg(0, event("x", "beta", ""))}, []string{"beta|L-x"}},
		{"acme same id later", []worker.Message{msg(1, event("x", "acme", ""))}, []string{"acme|L-x"}},
		{"both in one batch", []worker.Message{msg(2, event("y", "beta", "")), msg(3, event("y", "acme", ""))}, []string{"beta|L-y", "acme|L-y"}},
		{"acme's own copy stays a duplicate", []worker.Message{msg(4, event("x", "acme", ""))}, []string{""}},
	}
	for _, tt := range tests { // in order: each step sees the claims of the ones before
		res, err := d.ProcessBatch(context.Background(), tt.batch)
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

// TestScriptReload proves a Redis that lost its scripts (restart, SCRIPT
// FLUSH) does not stall the stage.
func TestScriptReload(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	d := &Deduper{Redis: rdb, Prefix: prefix, TTL: time.Hour, Metrics: NewMetrics(prometheus.NewRegistry())}
	ctx := context.Background()
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	res, err := d.ProcessBatch(ctx, []worker.Message{{Topic: "t", Offset: 1, Value: event("z", "acme", "")}})
	if err != nil || len(res[0].Out) != 1 {
		t.Fatalf("after SCRIPT FLUSH: %+v, %v", res, err)
	}
}

func BenchmarkProcessBatch(b *testing.B) {
	rdb, prefix := testenv.Redis(b)
	d := &Deduper{Redis: rdb, Prefix: prefix, TTL: time.Minute, Metrics: NewMetrics(prometheus.NewRegistry())}
	batch := make([]worker.Message, 1000)
	for i := range batch {
		batch[i] = worker.Message{Topic: "t", Offset: int64(i), Value: event(fmt.Sprintf("e%d", i), "acme", "")}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.ProcessBatch(context.Background(), batch); err != nil {
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
