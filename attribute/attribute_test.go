package attribute

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/internal/workertest"
	"github.com/reftrack/reftrack/schemas"
)

var t0 = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

func rec(off int64, typ, id, lead string, at, received time.Time, payload string) worker.Message {
	v := fmt.Sprintf(`{"event_id":%q,"event_type":%q,"schema_version":1,"occurred_at":%q,"received_at":%q,"partner_id":"acme","lead_id":%q,"payload":%s}`,
		id, typ, at.Format(time.RFC3339), received.Format(time.RFC3339), lead, payload)
	return worker.Message{Topic: "referrals.unique", Offset: off, Value: []byte(v)}
}

func touch(off int64, id, lead, referrer, typ string, at, received time.Time) worker.Message {
	return rec(off, schemas.TypeReferralCreated, id, lead, at, received,
		fmt.Sprintf(`{"referrer":{"id":%q,"type":%q},"channel":"crm"}`, referrer, typ))
}

func policy(off int64, id, lead, line string, at time.Time) worker.Message {
	return rec(off, schemas.TypePolicyIssued, id, lead, at, at, fmt.Sprintf(
		`{"policy_id":"P","product_line":%q,"annual_premium":"100.00","currency":"USD","term_months":12,"effective_date":"2026-10-02","sale_type":"new_business"}`, line))
}

// renewal is the renewal of policy P a year after policy's term began:
// another conversion of the same policy id.
func renewal(off int64, id, lead string, at time.Time) worker.Message {
	return rec(off, schemas.TypePolicyIssued, id, lead, at, at,
		`{"policy_id":"P","product_line":"auto","annual_premium":"110.00","currency":"USD","term_months":12,"effective_date":"2027-10-02","sale_type":"renewal"}`)
}

func cancelRec(off int64, id, lead, policyID, on string, at time.Time) worker.Message {
	return rec(off, schemas.TypePolicyCancelled, id, lead, at, at, fmt.Sprintf(`{"policy_id":%q,"cancelled_on":%q}`, policyID, on))
}

// wantID is the attribution id of a conversion as the contract with
// commission spells it: UUIDv5 of partner|policy id|sale type|effective date.
func wantID(partner, policyID, saleType, effective string) string {
	return uuid.NewSHA1(attributionSpace, []byte(partner+"|"+policyID+"|"+saleType+"|"+effective)).String()
}

// stage is an Attributor run the way the runtime runs it: batches through a
// real worker.State (kfake changelog, real Redis) in Kafka transactions.
type stage struct {
	*Attributor
	h *workertest.State
}

func newAttributor(t *testing.T) stage {
	t.Helper()
	rdb, prefix := testenv.Redis(t)
	a := &Attributor{Redis: rdb, Prefix: prefix, Metrics: NewMetrics(prometheus.NewRegistry()), Config: Config{
		Lookback: 30 * 24 * time.Hour, Grace: 24 * time.Hour, MaxTouches: 10, Params: DefaultParams(),
		PaidModel: LastTouch, PaidModelByLine: map[string]string{"life": Linear}, ExcludeReferrers: []string{"customer"},
		KeepConversions: 48 * time.Hour,
	}}
	return stage{Attributor: a, h: workertest.NewState(t, "attribute", rdb, prefix)}
}

// run processes one committed batch.
func run(t *testing.T, a stage, batch ...worker.Message) []worker.Result {
	t.Helper()
	res, err := a.h.Batch(context.Background(), a.Attributor, batch)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// aborted processes one batch whose transaction aborts.
func aborted(t *testing.T, a stage, batch ...worker.Message) []worker.Result {
	t.Helper()
	res, err := a.h.Aborted(context.Background(), a.Attributor, batch)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func attribution(t *testing.T, out worker.Output) (schemas.Envelope, schemas.AttributionCalculated) {
	t.Helper()
	var env schemas.Envelope
	var att schemas.AttributionCalculated
	if err := json.Unmarshal(out.Value, &env); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(env.Payload, &att); err != nil {
		t.Fatal(err)
	}
	return env, att
}

func referrers(att schemas.AttributionCalculated, model string) string {
	s := ""
	for _, tp := range att.Touchpoints {
		s += fmt.Sprintf("%s:%d ", tp.ReferrerID, tp.Weights[model])
	}
	return s
}

func TestProcessState(t *testing.T) {
	t.Parallel()
	a := newAttributor(t)
	h := time.Hour
	res := run(t, a,
		touch(0, "t-old", "L1", "A-old", "agent", t0.Add(-40*24*h), t0), // outside the lookback
		touch(1, "t1", "L1", "A-1", "agent", t0, t0),
		touch(2, "t2", "L1", "C-1", "customer", t0.Add(h), t0.Add(h)), // excluded type
		worker.Message{Topic: "referrals.unique", Offset: 3, Value: []byte(`{"event_type":`)},
	)
	if !worker.IsPermanent(res[3].Err) || res[0].Out != nil || res[1].Out != nil {
		t.Fatalf("batch 1: %+v", res)
	}
	batch2 := []worker.Message{
		// The policy shares its batch with a touch that happened after it:
		// event time, not arrival, decides, so t4 does not count.
		policy(4, "p1", "L1", "auto", t0.Add(2*h)),
		touch(5, "t4", "L1", "A-late", "agent", t0.Add(3*h), t0.Add(3*h)),
		policy(6, "p2", "L-none", "life", t0),
		rec(7, schemas.TypeReferralStatusUpdated, "s1", "L1", t0, t0, `{"status":"quoted"}`),
	}
	first := aborted(t, a, batch2...)
	again := run(t, a, batch2...) // the replay after the aborted transaction
	if fmt.Sprint(first) != fmt.Sprint(again) {
		t.Errorf("replay differs:\n%v\n%v", first, again)
	}
	if len(first[0].Out) != 1 || len(first[2].Out) != 1 || first[1].Out != nil || first[3].Out != nil {
		t.Fatalf("batch 2: %+v", first)
	}
	env, att := attribution(t, first[0].Out[0])
	if env.EventType != schemas.TypeAttributionCalculated || env.LeadID != "L1" || att.PolicyEventID != "p1" || att.PaidModel != LastTouch {
		t.Errorf("attribution %+v %+v", env, att)
	}
	if got := referrers(att, LastTouch); got != "A-1:10000 C-1:0 " || !att.Touchpoints[1].Excluded {
		t.Errorf("p1 touches %s %+v", got, att.Touchpoints)
	}
	v1 := att.Version
	_, none := attribution(t, first[2].Out[0])
	if len(none.Touchpoints) != 0 || none.PaidModel != Linear {
		t.Errorf("p2: %+v, want no touches and the life line's model", none)
	}

	// A touch that happened before p1 but reached ingest an hour after it:
	// p1 is re-attributed under the same id with a higher version.
	res = run(t, a, touch(8, "t0", "L1", "B-1", "broker", t0.Add(-h), t0.Add(3*h)))
	if len(res[0].Out) != 1 {
		t.Fatalf("late touch: %+v", res)
	}
	env2, att2 := attribution(t, res[0].Out[0])
	if env2.EventID != env.EventID || att2.Version <= v1 {
		t.Errorf("correction id %s version %d, first %s version %d", env2.EventID, att2.Version, env.EventID, v1)
	}
	if got := referrers(att2, FirstTouch); got != "B-1:10000 A-1:0 C-1:0 " {
		t.Errorf("corrected first touch: %s", got)
	}
	// Past the grace period a late touch changes nothing.
	if res = run(t, a, touch(9, "t-2", "L1", "B-2", "broker", t0.Add(-2*h), t0.Add(30*h))); res[0].Out != nil {
		t.Errorf("touch past grace re-attributed: %+v", res)
	}
	if n := testutil.ToFloat64(a.Metrics.reattributed); n != 1 {
		t.Errorf("reattributions_total = %v, want 1", n)
	}
}

func TestPruning(t *testing.T) {
	t.Parallel()
	a := newAttributor(t)
	a.Config.MaxTouches = 3
	var batch []worker.Message
	for i := range 5 {
		at := t0.Add(time.Duration(i) * time.Hour)
		batch = append(batch, touch(int64(i), fmt.Sprintf("t%d", i), "L", fmt.Sprintf("A-%d", i), "agent", at, at))
	}
	run(t, a, batch...)
	res := run(t, a, policy(9, "p", "L", "auto", t0.Add(10*time.Hour)))
	_, att := attribution(t, res[0].Out[0])
	if got := referrers(att, Linear); got != "A-2:3333 A-3:3333 A-4:3334 " {
		t.Errorf("after pruning to 3: %s", got)
	}
	if n := testutil.ToFloat64(a.Metrics.pruned); n != 2 {
		t.Errorf("touchpoints_pruned_total = %v, want 2", n)
	}
}

func TestCancellation(t *testing.T) {
	t.Parallel()
	a := newAttributor(t)
	run(t, a, touch(0, "t1", "L", "A-1", "agent", t0, t0), policy(1, "p1", "L", "auto", t0.Add(time.Hour)))
	cancel := func(off int64, id, policyID, partner string) worker.Message {
		m := rec(off, schemas.TypePolicyCancelled, id, "L", t0.Add(48*time.Hour), t0.Add(48*time.Hour),
			fmt.Sprintf(`{"policy_id":%q,"cancelled_on":"2026-10-03"}`, policyID))
		return forPartner(partner, m)
	}
	res := run(t, a, cancel(2, "c1", "P", "acme"), cancel(3, "c2", "P-unknown", "acme"), cancel(4, "c3", "P", "other-partner"))
	if len(res[0].Out) != 1 || res[1].Out != nil || res[2].Out != nil {
		t.Fatalf("results %+v", res)
	}
	var env schemas.Envelope
	var c schemas.AttributionCancelled
	_ = json.Unmarshal(res[0].Out[0].Value, &env)
	if err := json.Unmarshal(env.Payload, &c); err != nil {
		t.Fatal(err)
	}
	if env.EventType != schemas.TypeAttributionCancelled || c.AttributionID != wantID("acme", "P", "new_business", "2026-10-02") || c.CancelledOn != "2026-10-03" || c.Policy.PolicyID != "P" {
		t.Errorf("cancellation %+v %+v", env, c)
	}
	if n := testutil.ToFloat64(a.Metrics.parked); n != 2 {
		t.Errorf("parked_cancellations_total = %v, want 2", n)
	}
}

// forPartner moves a record built by rec to another partner.
func forPartner(partner string, m worker.Message) worker.Message {
	m.Value = []byte(strings.Replace(string(m.Value), `"partner_id":"acme"`, `"partner_id":"`+partner+`"`, 1))
	return m
}

// TestTenantScoped holds issue #11 finding 1 (and 2 for derived ids): acme
// and beta both use lead id L and policy event id p. beta's touch of its own
// L, though later (so last touch), takes nothing of acme's conversion; each
// partner's attribution has its own id and its own record key.
func TestTenantScoped(t *testing.T) {
	t.Parallel()
	h := time.Hour
	acmeTouch := touch(0, "t1", "L", "A-acme", "agent", t0, t0)
	betaTouch := forPartner("beta", touch(1, "t2", "L", "B-beta", "agent", t0.Add(h), t0.Add(h)))
	acmePolicy := policy(2, "p", "L", "auto", t0.Add(2*h))
	betaPolicy := forPartner("beta", policy(3, "p", "L", "auto", t0.Add(2*h)))
	tests := []struct {
		name  string
		batch []worker.Message
	}{
		{"one batch", []worker.Message{acmeTouch, betaTouch, acmePolicy, betaPolicy}},
		{"touches first", []worker.Message{acmeTouch, betaTouch}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAttributor(t)
			res := run(t, a, tt.batch...)
			if len(res) == 2 {
				res = append(res, run(t, a, acmePolicy, betaPolicy)...)
			}
			ids := map[string]string{}
			for i, want := range []struct{ partner, credit string }{{"acme", "A-acme:10000 "}, {"beta", "B-beta:10000 "}} {
				r := res[2+i]
				if len(r.Out) != 1 {
					t.Fatalf("%s policy: %+v", want.partner, r)
				}
				env, att := attribution(t, r.Out[0])
				if got := referrers(att, LastTouch) + "/" + referrers(att, Linear); got != want.credit+"/"+want.credit {
					t.Errorf("%s credit %s, want only its own agent, 100%%", want.partner, got)
				}
				if string(r.Out[0].Key) != string(schemas.LeadKey(want.partner, "L")) || env.PartnerID != want.partner {
					t.Errorf("%s record key %q partner %q", want.partner, r.Out[0].Key, env.PartnerID)
				}
				ids[want.partner] = env.EventID
			}
			if ids["acme"] == ids["beta"] {
				t.Errorf("both partners' policy event p got attribution id %s", ids["acme"])
			}
		})
	}
}

// TestCancellationTenantScoped: a cancellation is forwarded under an id
// derived from its partner and event id, keyed by the tenant-scoped lead,
// and names the attribution of its own partner's conversion.
func TestCancellationTenantScoped(t *testing.T) {
	t.Parallel()
	a := newAttributor(t)
	run(t, a, policy(0, "p", "L", "auto", t0), forPartner("beta", policy(1, "p", "L", "auto", t0)))
	cancel := func(off int64, partner string) worker.Message {
		return forPartner(partner, rec(off, schemas.TypePolicyCancelled, "c", "L", t0.Add(time.Hour), t0.Add(time.Hour),
			`{"policy_id":"P","cancelled_on":"2026-10-03"}`))
	}
	res := run(t, a, cancel(2, "acme"), cancel(3, "beta"))
	ids := map[string]bool{}
	for i, partner := range []string{"acme", "beta"} {
		if len(res[i].Out) != 1 {
			t.Fatalf("%s cancellation: %+v", partner, res[i])
		}
		var env schemas.Envelope
		var c schemas.AttributionCancelled
		if err := json.Unmarshal(res[i].Out[0].Value, &env); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(env.Payload, &c); err != nil {
			t.Fatal(err)
		}
		if c.AttributionID != wantID(partner, "P", "new_business", "2026-10-02") || string(res[i].Out[0].Key) != string(schemas.LeadKey(partner, "L")) {
			t.Errorf("%s: attribution %s key %q", partner, c.AttributionID, res[i].Out[0].Key)
		}
		ids[env.EventID] = true
	}
	if len(ids) != 2 {
		t.Errorf("both partners' cancellation c got one id: %v", ids)
	}
}
