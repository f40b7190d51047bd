package validate

import (
	"context"
	"strings"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
	"github.com/reftrack/reftrack/schemas/validation"
)

// CodeUnsealedContact refuses, under --pii-require-sealed, a referral whose
// lead contact holds a clear value: every ingest seals (PRIVACY.md), so a
// clear one comes from a misconfigured ingest and must go no further.
const CodeUnsealedContact = "unsealed_contact"

// ProcessRequiringSealed is Process that also dead-letters a valid event
// whose contact is not sealed. It needs no key: it only looks at the form
// of each value.
func ProcessRequiringSealed(v *validation.Validator) worker.Func {
	process := Process(v)
	return func(ctx context.Context, m worker.Message) ([]worker.Output, error) {
		out, err := process(ctx, m)
		if err != nil {
			return nil, err
		}
		for _, o := range out {
			if reasons := unsealed(o.Value); len(reasons) > 0 {
				return nil, &worker.RejectError{Reasons: reasons}
			}
		}
		return out, nil
	}
}

// unsealed names each clear contact field of a valid event (only
// referral.created has a contact; the schema held its shape).
func unsealed(value []byte) []schemas.Reason {
	var ev struct {
		Payload struct {
			Lead *schemas.Contact `json:"lead"`
		} `json:"payload"`
	}
	// value is validate's own output, so the pipeline's decoder reads it.
	if schemas.Decode(value, &ev) != nil || ev.Payload.Lead == nil {
		return nil
	}
	c := ev.Payload.Lead
	var out []schemas.Reason
	for _, f := range []struct{ name, value string }{{"name", c.Name}, {"email", c.Email}, {"phone", c.Phone}} {
		if f.value != "" && !strings.HasPrefix(f.value, validation.SealedPrefix) {
			out = append(out, schemas.Reason{Code: CodeUnsealedContact, Pointer: "/payload/lead/" + f.name,
				Message: "the contact must arrive sealed (--pii-require-sealed): is every ingest running --pii-mode seal?"})
		}
	}
	return out
}
