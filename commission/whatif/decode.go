package whatif

import (
	"fmt"

	"github.com/reftrack/reftrack/schemas"
)

// decodeLine reads back an entry commission.Lines encoded: the pipeline's
// own JSON, so schemas.Decode, like every stage.
func decodeLine(e schemas.Envelope) (schemas.JournalEntry, error) {
	var l schemas.JournalEntry
	if err := schemas.Decode(e.Payload, &l); err != nil {
		return l, fmt.Errorf("decode accrual %s: %w", e.EventID, err)
	}
	return l, nil
}
