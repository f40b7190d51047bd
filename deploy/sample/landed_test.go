package sample

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/reftrack/reftrack/internal/testenv"
)

// TestReadLandedSumsTheJournal: the oracle's view of money is the sum of
// the journal's entries, a row the sink wrote twice counted once; lines
// restated in place before the journal are not read.
func TestReadLandedSumsTheJournal(t *testing.T) {
	t.Parallel()
	conn := migratedDB(t)
	ctx := context.Background()
	batch, err := conn.PrepareBatch(ctx, `INSERT INTO commission_entries (entry_id, kind, payee_id, payee_type, currency, amount_minor,
		period, posted_at, partner_id, lead_id)`)
	if err != nil {
		t.Fatal(err)
	}
	oct, nov := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, r := range [][]any{
		{"e1", "accrual", "a-1", "agent", "USD", int64(10000), oct, oct, "acme", "L1"},
		{"e1", "accrual", "a-1", "agent", "USD", int64(10000), oct, oct, "acme", "L1"}, // written twice
		{"e2", "accrual", "b-1", "broker", "USD", int64(0), oct, oct, "acme", "L1"},
		{"e3", "clawback", "a-1", "agent", "USD", int64(-2500), nov, nov, "acme", "L1"},
		{"e4", "accrual", "a-1", "agent", "JPY", int64(700), oct, oct, "bestquote", "L1"},
	} {
		if err := batch.Append(r...); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, `INSERT INTO commission_lines (line_id, payee_id, payee_type, currency, amount_minor, converted_at)
		SELECT 'old', 'a-1', 'agent', 'USD', 99999, toDateTime('2026-09-01 00:00:00')`); err != nil {
		t.Fatal(err)
	}
	l, err := ReadLanded(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	want := &Expected{CommissionLines: 4, CommissionTotal: map[string]int64{"USD": 7500, "JPY": 700},
		CommissionByPayee: map[string]int64{"agent:a-1 USD": 7500, "broker:b-1 USD": 0, "agent:a-1 JPY": 700},
		CommissionByLeadPayee: map[string]int64{
			LeadPayeeKey("acme", "L1", "agent:a-1", "USD"): 7500, LeadPayeeKey("acme", "L1", "broker:b-1", "USD"): 0,
			LeadPayeeKey("bestquote", "L1", "agent:a-1", "JPY"): 700,
		}}
	if d := want.Diff(l); len(d) > 0 {
		t.Errorf("landed vs want: %v", d)
	}
}

// migratedDB is a fresh database with reftrack's migrations on the dev
// stack's ClickHouse.
func migratedDB(t *testing.T) driver.Conn {
	t.Helper()
	conn, _ := testenv.ClickHouse(t, "landed_test", true)
	return conn
}

// TestReadLandedPayouts: a payee's payout is read as its statements sum it
// (commission.PayoutOf): payout_amount_minor in payout_currency for an
// entry with an fx_rate, amount_minor in currency for one without (held
// fx:missing_rate, or paid in the policy's currency).
func TestReadLandedPayouts(t *testing.T) {
	t.Parallel()
	conn := migratedDB(t)
	ctx := context.Background()
	batch, err := conn.PrepareBatch(ctx, `INSERT INTO commission_entries (entry_id, kind, payee_id, payee_type, currency, amount_minor,
		period, posted_at, partner_id, lead_id, payout_currency, payout_amount_minor, fx_rate)`)
	if err != nil {
		t.Fatal(err)
	}
	oct := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	for _, r := range [][]any{
		{"e1", "accrual", "A-1", "agent", "USD", int64(10000), oct, oct, "acme", "L1", "EUR", int64(9237), "0.9237"},
		{"e2", "accrual", "A-1", "agent", "GBP", int64(500), oct, oct, "acme", "L2", "EUR", int64(0), ""}, // no rate: unconverted
		{"e3", "accrual", "a-1", "agent", "USD", int64(700), oct, oct, "acme", "L1", "", int64(0), ""},
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
	want := map[string]int64{"agent:A-1 EUR": 9237, "agent:A-1 GBP": 500, "agent:a-1 USD": 700}
	w := &Expected{PayoutByPayee: want}
	if d := w.payoutDiff(l); len(d) > 0 {
		t.Errorf("payouts: %v (read %v)", d, l.PayoutByPayee)
	}
	if got := w.PayoutTotal(); got["EUR"] != 9237 || got["GBP"] != 500 || got["USD"] != 700 {
		t.Errorf("PayoutTotal = %v", got)
	}
}
