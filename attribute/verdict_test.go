package attribute

import (
	"fmt"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/internal/testenv"
)

// TestBadRecordVerdicts: attribute rejects, or ignores, each bad record as
// it did when it decoded envelopes itself, with the same reasons.
func TestBadRecordVerdicts(t *testing.T) {
	t.Parallel()
	var got strings.Builder
	for i, raw := range testenv.BadRecords {
		d, err := decode([]byte(raw))
		if err != nil {
			fmt.Fprintf(&got, "%d: %v\n", i, err)
			continue
		}
		fmt.Fprintf(&got, "%d: lead=%s touch=%v conv=%v cancel=%v agent=%v\n", i, d.lead, d.touch != nil, d.conv != nil, d.cancel != nil, d.agent != nil)
	}
	testenv.Golden(t, "verdicts.golden", got.String())
}
