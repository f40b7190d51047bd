package audit

import (
	"fmt"
	"strings"
	"testing"

	"github.com/reftrack/reftrack/schemas"
)

// TestDeriveLifecycle (issue #13, lifecycle): a decision says who decided
// what and why, a decline's reversal says it was declined (not superseded),
// and an accrual says until when it is held.
func TestDeriveLifecycle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		e    schemas.JournalEntry
		want string
	}{
		{"decision", schemas.JournalEntry{Kind: schemas.EntryDecision, Corrects: "acc-1", Decision: schemas.DecisionDecline,
			Actor: "ops@acme", Reason: "fraud", CauseID: "d-1", Currency: "USD"},
			"decision: decline of accrual acc-1 by ops@acme, request d-1: fraud"},
		{"decline reversal", schemas.JournalEntry{Kind: schemas.EntryReversal, Corrects: "acc-1", Actor: "ops@acme", Reason: "fraud",
			CauseID: "d-1", Currency: "USD", AmountMinor: -100},
			"reverses: what still stood of accrual acc-1, declined by ops@acme, request d-1: fraud"},
		{"held accrual", schemas.JournalEntry{Kind: schemas.EntryAccrual, HoldUntil: "2026-01-31", Rate: "30", Currency: "USD"},
			"hold: held until 2026-01-31 (the product line's holding period), approved from then on unless decided otherwise"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var lines []string
			for _, s := range Derive(tt.e) {
				lines = append(lines, fmt.Sprintf("%s: %s", s.What, s.Detail))
			}
			if !strings.Contains(strings.Join(lines, "\n"), tt.want) {
				t.Errorf("derivation\n%s\nlacks %q", strings.Join(lines, "\n"), tt.want)
			}
		})
	}
}
