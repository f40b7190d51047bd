package attribute

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

var t0 = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

func TestLastTouch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    int
		want []int
	}{
		{0, nil},
		{1, []int{10000}},
		{3, []int{0, 0, 10000}},
	}
	for _, tt := range tests {
		ts := make([]Touch, tt.n)
		got := LastTouch(ts)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("LastTouch(%d touches) = %v, want %v", tt.n, got, tt.want)
		}
	}
}

// TestModelsProperties: every model's weights sum to 10 000 and do not
// depend on the order touches arrive in.
func TestModelsProperties(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		ts := make([]Touch, 1+r.IntN(10))
		for i := range ts {
			// Few distinct times, so ties on time are common.
			ts[i] = Touch{EventID: fmt.Sprintf("e%02d", r.IntN(100)), OccurredAt: t0.Add(time.Duration(r.IntN(4)) * time.Hour)}
		}
		shuffled := append([]Touch(nil), ts...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		Order(ts)
		Order(shuffled)
		for name, m := range Models {
			a, b := m(ts), m(shuffled)
			sum := 0
			for i := range a {
				sum += a[i]
				if a[i] != b[i] || ts[i] != shuffled[i] {
					t.Fatalf("%s depends on arrival order", name)
				}
			}
			if sum != TotalBP {
				t.Fatalf("%s weights %v sum to %d", name, a, sum)
			}
		}
	}
}

func rec(off int64, typ, id, lead string, at time.Time, payload string) worker.Message {
	v := fmt.Sprintf(`{"event_id":%q,"event_type":%q,"schema_version":1,"occurred_at":%q,"partner_id":"acme","lead_id":%q,"payload":%s}`,
		id, typ, at.Format(time.RFC3339), lead, payload)
	return worker.Message{Topic: "referrals.unique", Offset: off, Value: []byte(v)}
}

func touch(off int64, id, lead, referrer string, at time.Time) worker.Message {
	return rec(off, schemas.TypeReferralCreated, id, lead, at, fmt.Sprintf(`{"referrer":{"id":%q,"type":"agent"},"channel":"crm"}`, referrer))
}

func policy(off int64, id, lead string, at time.Time) worker.Message {
	return rec(off, schemas.TypePolicyIssued, id, lead, at,
		`{"policy_id":"P","product_line":"auto","annual_premium":"100.00","currency":"USD","term_months":12,"effective_date":"2026-10-02","sale_type":"new_business"}`)
}

func TestProcessBatch(t *testing.T) {
	t.Parallel()
	rdb, prefix := testenv.Redis(t)
	a := &Attributor{Redis: rdb, Prefix: prefix, Lookback: 30 * 24 * time.Hour, PaidModel: schemas.ModelLastTouch, Metrics: NewMetrics(prometheus.NewRegistry())}
	ctx := context.Background()
	batch1 := []worker.Message{
		touch(0, "t-old", "L1", "A-old", t0.Add(-40*24*time.Hour)), // outside the lookback
		touch(1, "t1", "L1", "A-1", t0),
		touch(2, "t2", "L1", "A-2", t0.Add(time.Hour)),
		{Topic: "referrals.unique", Offset: 3, Value: []byte(`{"event_type":`)},
	}
	batch2 := []worker.Message{
		// The policy comes in the same batch as a touch that happened after
		// it: event time, not arrival, decides, so t4 does not count.
		policy(4, "p1", "L1", t0.Add(2*time.Hour)),
		touch(5, "t4", "L1", "A-late", t0.Add(3*time.Hour)),
		policy(6, "p2", "L-none", t0),
		rec(7, schemas.TypeReferralStatusUpdated, "s1", "L1", t0, `{"status":"quoted"}`),
	}
	res, err := a.ProcessBatch(ctx, batch1)
	if err != nil {
		t.Fatal(err)
	}
	if !worker.IsPermanent(res[3].Err) || res[0].Out != nil || res[1].Out != nil {
		t.Fatalf("batch1 results %+v", res)
	}
	var first []worker.Result
	for round := range 2 { // round 1 replays the batch as after an abort
		res, err = a.ProcessBatch(ctx, batch2)
		if err != nil {
			t.Fatal(err)
		}
		if round == 0 {
			first = res
		}
		for i := range res {
			if fmt.Sprint(res[i]) != fmt.Sprint(first[i]) {
				t.Errorf("replay differs at %d:\n%+v\n%+v", i, first[i], res[i])
			}
		}
	}
	if len(res[0].Out) != 1 || len(res[2].Out) != 1 || res[1].Out != nil || res[3].Out != nil {
		t.Fatalf("batch2 results %+v", res)
	}
	var env schemas.Envelope
	var att schemas.AttributionCalculated
	if err := json.Unmarshal(res[0].Out[0].Value, &env); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(env.Payload, &att); err != nil {
		t.Fatal(err)
	}
	if env.EventType != schemas.TypeAttributionCalculated || env.LeadID != "L1" || att.PolicyEventID != "p1" || att.PaidModel != "last_touch" {
		t.Errorf("attribution envelope %+v payload %+v", env, att)
	}
	if len(att.Touchpoints) != 2 || att.Touchpoints[0].ReferrerID != "A-1" || att.Touchpoints[1].ReferrerID != "A-2" ||
		att.Touchpoints[0].Weights["last_touch"] != 0 || att.Touchpoints[1].Weights["last_touch"] != 10000 {
		t.Errorf("touchpoints %+v", att.Touchpoints)
	}
	if err := json.Unmarshal(res[2].Out[0].Value, &env); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(env.Payload, &att)
	if len(att.Touchpoints) != 0 {
		t.Errorf("lead without touches got %+v", att.Touchpoints)
	}
}
