package audit

import (
	"strings"
	"testing"

	"github.com/reftrack/reftrack/schemas"
)

// TestDeriveRequestedHold (issue #18, velocity): a hold a scheduled fraud
// rule requested names no hold rule of a rule set: explain says who held it
// (the actor, with the rule's window) and under which request, never an
// empty rule.
func TestDeriveRequestedHold(t *testing.T) {
	t.Parallel()
	e := schemas.JournalEntry{EntryID: "h-1", Kind: schemas.EntryDecision, Decision: "hold", Corrects: "a-1", PayeeType: "agent", PayeeID: "A-1",
		Period: "2026-11", CauseID: "req-1", Actor: "rule:velocity@window=24h0m0s,max=20", Reason: "fraud:velocity"}
	var got []string
	for _, s := range Derive(e) {
		got = append(got, s.Detail)
	}
	text := strings.Join(got, "\n")
	for _, want := range []string{"accrual a-1 held for fraud:velocity by rule:velocity@window=24h0m0s,max=20, request req-1"} {
		if !strings.Contains(text, want) {
			t.Errorf("explain:\n%s\nwant %q in it", text, want)
		}
	}
	if strings.Contains(text, "hold rule  of rule set") {
		t.Errorf("explain names an empty hold rule:\n%s", text)
	}
}
