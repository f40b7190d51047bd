package commission

import (
	"fmt"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/internal/testenv"
)

// TestBadRecordVerdicts: commission rejects each bad record as it did
// when it decoded envelopes itself, with the same reasons.
func TestBadRecordVerdicts(t *testing.T) {
	t.Parallel()
	var got strings.Builder
	for i, raw := range testenv.BadRecords {
		e, err := decodeEvent([]byte(raw))
		if err != nil {
			fmt.Fprintf(&got, "%d: %v\n", i, err)
			continue
		}
		fmt.Fprintf(&got, "%d: ok %s att=%v cancel=%v adj=%v close=%v dec=%v\n", i, e.env.EventType, e.att != nil, e.cancel != nil, e.adj != nil, e.close != nil, e.dec != nil)
	}
	testenv.Golden(t, "verdicts.golden", got.String())
}
