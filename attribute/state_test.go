package attribute

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// attributionIDs lists the ids of the attribution.calculated records of
// results, in order, with repeats.
func attributionIDs(t *testing.T, results ...[]worker.Result) []string {
	t.Helper()
	var ids []string
	for _, res := range results {
		for _, r := range res {
			for _, out := range r.Out {
				if env, _ := attribution(t, out); env.EventType == schemas.TypeAttributionCalculated {
					ids = append(ids, env.EventID)
				}
			}
		}
	}
	return ids
}

// outputs are the records of results as one string, for comparing runs.
func outputs(results ...[]worker.Result) string {
	s := ""
	for _, res := range results {
		for _, r := range res {
			for _, out := range r.Out {
				s += fmt.Sprintf("%s %s %s\n", out.Topic, out.Key, out.Value)
			}
		}
	}
	return s
}

// TestTouchSurvivesRedisLoss holds issue #14 finding 1 (touchpoints): a
// touch processed before Redis lost everything still counts for the policy
// processed after; before the state moved to worker.State the policy was
// attributed with no touch and the agent lost the commission.
func TestTouchSurvivesRedisLoss(t *testing.T) {
	t.Parallel()
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprintf("restart=%v", restart), func(t *testing.T) {
			t.Parallel()
			a := newAttributor(t)
			run(t, a, touch(0, "t1", "L", "A-1", "agent", t0, t0))
			a.h.LoseRedis(context.Background())
			if restart {
				a.h.Restart()
			}
			res := run(t, a, policy(1, "p1", "L", "auto", t0.Add(time.Hour)))
			if len(res[0].Out) != 1 {
				t.Fatalf("policy: %+v", res)
			}
			if _, att := attribution(t, res[0].Out[0]); referrers(att, LastTouch) != "A-1:10000 " {
				t.Errorf("after losing Redis the policy credits %q, want A-1:10000", referrers(att, LastTouch))
			}
		})
	}
}

// TestResentConversionOneAttribution holds issue #14 finding 1 (ids): the
// same conversion sent twice under two event ids (a resend that dedupe did
// not catch, e.g. after Redis lost its claims) is one attribution, whose id
// derives from the policy, not the event; a renewal is another conversion.
func TestResentConversionOneAttribution(t *testing.T) {
	t.Parallel()
	h := time.Hour
	first := policy(1, "p1", "L", "auto", t0.Add(h))
	resend := policy(2, "p1-resent", "L", "auto", t0.Add(2*h))
	renew := renewal(3, "p2", "L", t0.Add(365*24*h))
	newBusiness := wantID("acme", "P", "new_business", "2026-10-02")
	tests := []struct {
		name    string
		batches [][]worker.Message
		lose    bool // Redis lost everything before the last batch
		want    []string
	}{
		{"one batch", [][]worker.Message{{first, resend}}, false, []string{newBusiness}},
		{"two batches", [][]worker.Message{{first}, {resend}}, false, []string{newBusiness}},
		{"across Redis loss", [][]worker.Message{{first}, {resend}}, true, []string{newBusiness}},
		{"renewal", [][]worker.Message{{first}, {renew}}, true,
			[]string{newBusiness, wantID("acme", "P", "renewal", "2027-10-02")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAttributor(t)
			var results [][]worker.Result
			for i, b := range tt.batches {
				if tt.lose && i == len(tt.batches)-1 {
					a.h.LoseRedis(context.Background())
				}
				results = append(results, run(t, a, append([]worker.Message{touch(0, "t1", "L", "A-1", "agent", t0, t0)}, b...)...))
			}
			if got := attributionIDs(t, results...); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("attribution ids %v, want %v", got, tt.want)
			}
		})
	}
}

// TestAbortedConversionLeavesNoTrace holds issue #14 finding 4: a batch
// holding a conversion aborts, and its redo (cut into batches differently,
// as a re-poll may) and later batches give exactly the records of one clean
// run. Before, the aborted attempt had already saved the conversion in
// Redis, so the redo's touch re-attributed it and the policy was attributed
// again: the lead twice.
func TestAbortedConversionLeavesNoTrace(t *testing.T) {
	t.Parallel()
	h := time.Hour
	early := touch(0, "t1", "L", "A-1", "agent", t0, t0)
	// Occurred before the policy, reached ingest after it, within grace.
	late := touch(1, "t2", "L", "B-1", "broker", t0.Add(-h), t0.Add(3*h))
	conv := policy(2, "p1", "L", "auto", t0.Add(2*h))
	// Occurred after the policy: never counts.
	after := touch(3, "t3", "L", "A-2", "agent", t0.Add(4*h), t0.Add(4*h))
	tests := []struct {
		name    string
		aborted []worker.Message
		redo    [][]worker.Message
	}{
		{"redo as one batch", []worker.Message{early, late, conv}, [][]worker.Message{{early, late, conv}, {after}}},
		{"redo split", []worker.Message{early, late, conv}, [][]worker.Message{{early, late}, {conv}, {after}}},
		{"redo split before the late touch", []worker.Message{early, late, conv}, [][]worker.Message{{early}, {late, conv, after}}},
		{"conversion first", []worker.Message{early, conv, late}, [][]worker.Message{{early}, {conv}, {late}, {after}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clean := newAttributor(t)
			var want []string
			var all []worker.Message
			for _, b := range tt.redo {
				all = append(all, b...)
			}
			for _, m := range all {
				want = append(want, outputs(run(t, clean, m)))
			}

			a := newAttributor(t)
			aborted(t, a, tt.aborted...)
			var got []string
			for _, b := range tt.redo {
				for _, r := range run(t, a, b...) {
					got = append(got, outputs([]worker.Result{r}))
				}
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("record %d after the aborted batch:\n%s\nwant (one clean run):\n%s", i, got[i], want[i])
				}
			}
			if ids := attributionIDs(t, run(t, a, after)); len(ids) != 0 {
				t.Errorf("a later touch re-attributed the lead: %v", ids)
			}
		})
	}
}

// TestResendVersionMonotonic: a resend whose attribution changed (here the
// paid model was reconfigured in between) is emitted under the same id with
// a higher version, never a lower or equal one; one that changed nothing is
// not emitted.
func TestResendVersionMonotonic(t *testing.T) {
	t.Parallel()
	a := newAttributor(t)
	h := time.Hour
	first := run(t, a, touch(0, "t1", "L", "A-1", "agent", t0, t0), policy(1, "p1", "L", "auto", t0.Add(h)))
	same := run(t, a, policy(2, "p1-again", "L", "auto", t0.Add(2*h)))
	a.Config.PaidModel = Linear
	changed := run(t, a, policy(3, "p1-third", "L", "auto", t0.Add(-h)))
	if len(first[1].Out) != 1 || same[0].Out != nil || len(changed[0].Out) != 1 {
		t.Fatalf("outputs: first %+v, unchanged resend %+v, changed resend %+v", first, same, changed)
	}
	env1, att1 := attribution(t, first[1].Out[0])
	env2, att2 := attribution(t, changed[0].Out[0])
	if env1.EventID != env2.EventID || att2.Version <= att1.Version {
		t.Errorf("changed resend: id %s version %d after id %s version %d", env2.EventID, att2.Version, env1.EventID, att1.Version)
	}
	if att2.PolicyEventID != "p1" || att2.PaidModel != Linear || !env2.OccurredAt.Equal(t0.Add(h)) {
		t.Errorf("changed resend: policy event %s model %s occurred %s, want the first event's facts and the new model",
			att2.PolicyEventID, att2.PaidModel, env2.OccurredAt)
	}
}

func TestNextVersion(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ last, computed, want int64 }{
		{0, 5, 5},  // first attribution
		{5, 9, 9},  // more touches
		{9, 9, 10}, // changed content, same touch stamp (new configuration)
		{9, 4, 10}, // touches pruned or expired
	} {
		if got := nextVersion(tt.last, tt.computed); got != tt.want {
			t.Errorf("nextVersion(%d, %d) = %d, want %d", tt.last, tt.computed, got, tt.want)
		}
	}
}

// TestCancellationIDs: a cancellation is forwarded under an id derived from
// the conversion it cancels and its date: a resend (another event id, same
// date) is forwarded once; another date is another cancellation; with a
// renewal, the term in force on the date is cancelled, and a renewal not in
// effect yet on it is cancelled with it (wholly unearned).
func TestCancellationIDs(t *testing.T) {
	t.Parallel()
	nb := wantID("acme", "P", "new_business", "2026-10-02")
	rn := wantID("acme", "P", "renewal", "2027-10-02")
	cid := func(att, on string) string {
		return uuid.NewSHA1(attributionSpace, []byte("cancel|"+att+"|"+on)).String()
	}
	at := t0.Add(400 * 24 * time.Hour)
	tests := []struct {
		name    string
		cancels []worker.Message
		want    []string // attribution id / cancellation id of each forwarded cancellation
	}{
		{"resent", []worker.Message{cancelRec(10, "c1", "L", "P", "2026-12-01", at), cancelRec(11, "c2", "L", "P", "2026-12-01", at)},
			[]string{nb + "/" + cid(nb, "2026-12-01"), rn + "/" + cid(rn, "2026-12-01")}},
		{"two dates", []worker.Message{cancelRec(10, "c1", "L", "P", "2026-12-01", at), cancelRec(11, "c2", "L", "P", "2026-12-02", at)},
			[]string{nb + "/" + cid(nb, "2026-12-01"), rn + "/" + cid(rn, "2026-12-01"), nb + "/" + cid(nb, "2026-12-02"), rn + "/" + cid(rn, "2026-12-02")}},
		{"renewal term", []worker.Message{cancelRec(10, "c1", "L", "P", "2027-11-01", at)},
			[]string{rn + "/" + cid(rn, "2027-11-01")}},
		{"before the policy took effect", []worker.Message{cancelRec(10, "c1", "L", "P", "2026-10-01", at)},
			[]string{nb + "/" + cid(nb, "2026-10-01"), rn + "/" + cid(rn, "2026-10-01")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAttributor(t)
			run(t, a, policy(0, "p1", "L", "auto", t0), renewal(1, "p2", "L", t0.Add(365*24*time.Hour)))
			var got []string
			for _, m := range tt.cancels { // one batch each: the state carries the first to the second
				for _, r := range run(t, a, m) {
					for _, out := range r.Out {
						var env schemas.Envelope
						var c schemas.AttributionCancelled
						if err := json.Unmarshal(out.Value, &env); err != nil {
							t.Fatal(err)
						}
						if err := json.Unmarshal(env.Payload, &c); err != nil {
							t.Fatal(err)
						}
						got = append(got, c.AttributionID+"/"+env.EventID)
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("forwarded %v, want %v", got, tt.want)
			}
		})
	}
}
