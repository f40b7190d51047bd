package whatif

import (
	"encoding/json"
	"fmt"

	"github.com/reftrack/reftrack/schemas"
)

func decodeLine(e schemas.Envelope) (schemas.JournalEntry, error) {
	var l schemas.JournalEntry
	if err := json.Unmarshal(e.Payload, &l); err != nil {
		return l, fmt.Errorf("decode accrual %s: %w", e.EventID, err)
	}
	return l, nil
}
