package validate

import (
	"context"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/validation"
)

// Process returns the stage function of v: valid events go on normalized,
// keyed by the tenant-scoped lead; the dead letter of an invalid one keeps
// the bytes as they came, with every reason validation found.
func Process(v *validation.Validator) worker.Func {
	return func(_ context.Context, m worker.Message) ([]worker.Output, error) {
		env, normalized, reasons := v.Check(m.Value)
		if len(reasons) > 0 {
			return nil, &worker.RejectError{Reasons: reasons}
		}
		return []worker.Output{{Topic: schemas.TopicValid, Key: schemas.LeadKey(env.PartnerID, env.LeadID), Value: normalized}}, nil
	}
}
