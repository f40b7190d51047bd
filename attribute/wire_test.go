package attribute

import (
	"strings"
	"testing"
	"time"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/internal/worker"
)

// TestOutputWireGolden: what attribute writes (attribution.calculated
// with counted, excluded and agent-of-record touchpoints, a correction, an
// attribution.cancelled) is byte for byte what it wrote before Touch and
// Touchpoint became one type and decoding moved to schemas.DecodeEvent.
// The golden file was written by the code before that change.
func TestOutputWireGolden(t *testing.T) {
	t.Parallel()
	a := newAttributor(t)
	h := time.Hour
	batches := [][]worker.Message{
		{
			touch(0, "t1", "L1", "A-1", "agent", t0, t0.Add(time.Second)),
			touch(1, "t2", "L1", "C-1", "customer", t0.Add(h), t0.Add(h)), // excluded type
			touch(2, "t3", "L1", "B-1", "broker", t0.Add(2*h), t0.Add(2*h)),
			policy(3, "p1", "L1", "auto", t0.Add(3*h)),
		},
		{touch(4, "t0", "L1", "B-0", "broker", t0.Add(-h), t0.Add(4*h))}, // late: a correction
		{policyV2(5, "p2", "L2", "renewal", "2026-10-05", "agent-9", t0.Add(5*h))},
		{cancelRec(6, "c1", "L1", "P", "2026-11-01", t0.Add(6*h))},
	}
	var got strings.Builder
	for _, b := range batches {
		for _, r := range run(t, a, b...) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			for _, o := range r.Out {
				got.WriteString(o.Topic + " " + string(o.Key) + " " + string(o.Value) + "\n")
			}
		}
	}
	testenv.Golden(t, "output.golden", got.String())
}
