package validate

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas/validation"
)

const sealedEmail = "enc:v1:A256GCM:0123456789abcdef:ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"

// TestRequireSealed: with --pii-require-sealed, a referral whose contact
// holds any clear value is a dead letter unsealed_contact (the value never
// echoed), so a misconfigured ingest cannot push clear contacts further; a
// sealed contact, or an event without one, passes; without the flag, clear
// contacts pass as before.
func TestRequireSealed(t *testing.T) {
	t.Parallel()
	v, err := validation.New(validation.DefaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	sealed := strings.NewReplacer(`"name":"Ana",`, ``, `"ana@example.com"`, `"`+sealedEmail+`"`, `,"phone":"+44 20 7946 0958"`, ``).Replace(created)
	partly := strings.Replace(created, `"ana@example.com"`, `"`+sealedEmail+`"`, 1)
	tests := []struct {
		name    string
		require bool
		in      string
		pointer string // of the unsealed_contact reason; "" passes
	}{
		{"clear, not required", false, created, ""},
		{"clear, required", true, created, "/payload/lead/name"},
		{"partly sealed, required", true, partly, "/payload/lead/name"},
		{"sealed, required", true, sealed, ""},
		{"no contact, required", true, issued, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			process := Process(v)
			if tt.require {
				process = ProcessRequiringSealed(v)
			}
			out, err := process(context.Background(), worker.Message{Value: []byte(tt.in)})
			if tt.pointer == "" {
				if err != nil || len(out) != 1 {
					t.Fatalf("Process = %v, %v; want it passed", out, err)
				}
				return
			}
			var rej *worker.RejectError
			if !errors.As(err, &rej) || rej.Reasons[0].Code != CodeUnsealedContact || rej.Reasons[0].Pointer != tt.pointer {
				t.Fatalf("Process = %v; want %s at %s", err, CodeUnsealedContact, tt.pointer)
			}
			if strings.Contains(err.Error(), "Ana") || strings.Contains(err.Error(), "7946") {
				t.Errorf("the reason echoes the clear value: %v", err)
			}
		})
	}
}
