package validation

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/money"
)

// installmentReasons applies the installment rules a JSON Schema cannot
// state (issue #18): an installment's number is at most how many the
// policy is paid in, and its premium fits the currency like
// annual_premium. The schema has checked the shape already; an unknown
// currency is moneyReasons' to report.
func installmentReasons(payload map[string]any, currency string) []schemas.Reason {
	inst, ok := payload["installment"].(map[string]any)
	if !ok {
		return nil
	}
	var out []schemas.Reason
	number, of := jsonInt(inst["number"]), jsonInt(inst["of"])
	if number > of {
		out = append(out, schemas.Reason{Code: CodeSchema, Pointer: "/payload/installment/number",
			Message: fmt.Sprintf("installment %d of %d: number is above of", number, of)})
	}
	premium, _ := inst["premium"].(string)
	if _, err := money.ParseMinor(premium, currency); err != nil && !errors.Is(err, money.ErrUnknownCurrency) {
		out = append(out, schemas.Reason{Code: CodeInvalidAmount, Pointer: "/payload/installment/premium", Message: err.Error()})
	}
	return out
}

// jsonInt reads an integer the schema has admitted, decoded as a
// json.Number or a float64 depending on the decoder.
func jsonInt(v any) int64 {
	switch n := v.(type) {
	case json.Number:
		i, _ := n.Int64()
		return i
	case float64:
		return int64(n)
	}
	return 0
}
