package whatif

import (
	"encoding/json"
	"fmt"

	"github.com/reftrack/reftrack/schemas"
)

func decodeLine(e schemas.Envelope) (schemas.CommissionCalculated, error) {
	var l schemas.CommissionCalculated
	if err := json.Unmarshal(e.Payload, &l); err != nil {
		return l, fmt.Errorf("decode line %s: %w", e.EventID, err)
	}
	return l, nil
}
