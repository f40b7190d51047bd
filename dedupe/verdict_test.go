package dedupe

import (
	"fmt"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/internal/worker"
)

// TestBadRecordVerdicts: dedupe rejects, or passes, each bad record as it
// did when it decoded envelopes itself, with the same reasons.
func TestBadRecordVerdicts(t *testing.T) {
	t.Parallel()
	var got strings.Builder
	for i, raw := range testenv.BadRecords {
		in, err := decode(worker.Message{Topic: "referrals.valid", Partition: 1, Offset: int64(i), Value: []byte(raw)})
		if err != nil {
			fmt.Fprintf(&got, "%d: %v\n", i, err)
			continue
		}
		fmt.Fprintf(&got, "%d: pass lead=%s claim=%s status=%q log=%s print=%s\n", i, in.lead, in.claim.Key, in.status, in.log.Key, in.print)
	}
	testenv.Golden(t, "verdicts.golden", got.String())
}
