package sample

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestLandedByLifecycleState (issue #13: make run printed balances but not
// what of them is held, pending, approved, declined or paid): ReadLanded
// sums the journal by lifecycle state (commission_entry_status) and
// currency, and Print shows it.
func TestLandedByLifecycleState(t *testing.T) {
	t.Parallel()
	conn := migratedDB(t)
	ctx := context.Background()
	batch, err := conn.PrepareBatch(ctx, `INSERT INTO commission_entries (entry_id, kind, payee_id, payee_type, currency, amount_minor,
		period, posted_at, partner_id, lead_id, corrects, hold_until, decision)`)
	if err != nil {
		t.Fatal(err)
	}
	oct := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	for _, r := range [][]any{
		{"e1", "accrual", "a-1", "agent", "USD", int64(10000), oct, oct, "acme", "L1", "", "2099-01-01", ""}, // held
		{"e2", "accrual", "a-1", "agent", "USD", int64(2000), oct, oct, "acme", "L1", "", "2026-01-01", ""},  // approved
		{"e3", "accrual", "a-1", "agent", "USD", int64(300), oct, oct, "acme", "L1", "", "", ""},             // pending
		{"e4", "accrual", "a-1", "agent", "USD", int64(40), oct, oct, "acme", "L1", "", "2026-01-01", ""},
		{"e5", "decision", "a-1", "agent", "USD", int64(0), oct, oct, "acme", "L1", "e4", "", "decline"},
		{"e6", "reversal", "a-1", "agent", "USD", int64(-40), oct, oct, "acme", "L1", "e4", "", ""}, // declined: nets to 0
	} {
		if err := batch.Append(r...); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	l, err := ReadLanded(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(l.CommissionByState), "map[approved USD:2000 declined USD:0 held USD:10000 pending USD:300]"; got != want {
		t.Errorf("by state %s, want %s", got, want)
	}
	var out bytes.Buffer
	l.Print(&out)
	if !strings.Contains(out.String(), "commission by lifecycle state") || !strings.Contains(out.String(), "held USD") {
		t.Errorf("summary lacks the lifecycle states:\n%s", out.String())
	}
}
