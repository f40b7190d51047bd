package sink

import (
	"fmt"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/schemas"
)

// TestBadRecordVerdicts: the sink turns each bad record into the rows it
// did when it decoded envelopes itself: the same rejected_events reasons,
// or the same rows.
func TestBadRecordVerdicts(t *testing.T) {
	t.Parallel()
	var got strings.Builder
	for _, topic := range []string{schemas.TopicUnique, schemas.TopicAttributions, schemas.TopicCommissions} {
		for i, raw := range testenv.BadRecords {
			rows, _ := Decode(topic, msg(topic, int64(i), raw))
			fmt.Fprintf(&got, "%s %d:", topic, i)
			for _, r := range rows {
				if r.Table.Name == rejectedEvents.Name {
					// codes, pointers, messages: what the reason says,
					// not how the original is redacted
					fmt.Fprintf(&got, " %s%v", r.Table.Name, r.Values[4:7])
					continue
				}
				fmt.Fprintf(&got, " %s(%d values)", r.Table.Name, len(r.Values))
			}
			got.WriteString("\n")
		}
	}
	testenv.Golden(t, "verdicts.golden", got.String())
}
