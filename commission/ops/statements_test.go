package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/reftrack/reftrack/commission/payout"
	"github.com/reftrack/reftrack/internal/testenv"
)

const secret = "statements test webhook secret, 32+ bytes"

// TestRerunPaysNothingAgain (issue #13: a re-run of a closed period after a
// late correction was delivered under a new id and paid twice): the command
// delivers closed periods only, each statement once across runs; a
// delivered period that changed stops the run instead of being re-sent.
func TestRerunPaysNothingAgain(t *testing.T) {
	t.Parallel()
	conn, dsn := testenv.ClickHouse(t, "statements_test", true)
	var mu sync.Mutex
	var ids []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if payout.Verify([]byte(secret), r.Header.Get(payout.SignatureHeader), body, time.Now(), time.Minute) != nil {
			http.Error(w, "refused", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		ids = append(ids, r.Header.Get(payout.DeliveryIDHeader))
		mu.Unlock()
	}))
	defer hook.Close()
	insert(t, conn, `INSERT INTO commission_entries (entry_id, kind, payee_id, payee_type, currency, amount_minor, period, posted_at, partner_id, hold_until)`,
		[]any{"e1", "accrual", "A-1", "agent", "USD", int64(150000), month("2026-10"), month("2026-10"), "acme", "2026-10-01"},
		[]any{"e2", "clawback", "A-1", "agent", "USD", int64(-75205), month("2026-11"), month("2026-11"), "acme", ""}) // after the close
	insert(t, conn, `INSERT INTO commission_period_closes (partner_id, period, request_id, actor, partitions, closed_at, kafka_topic, kafka_partition, kafka_offset)`,
		[]any{"acme", month("2026-10"), "c1", "ops", int32(1), month("2026-11"), "attributions", int32(0), int64(1)})
	insert(t, conn, `INSERT INTO commission_period_closes_done (partner_id, period, request_id, actor, done_at)`,
		[]any{"acme", month("2026-10"), "c1", "ops", month("2026-11")})
	args := []string{"statements", "--clickhouse", dsn, "--from", "2026-10-01", "--to", "2026-12-01", "--out", t.TempDir(),
		"--webhook-url", hook.URL}
	env := func(k string) string {
		if k == "REFTRACK_WEBHOOK_SECRET" {
			return secret
		}
		return ""
	}
	for run_ := range 2 {
		if err := Statements(context.Background(), args, env); err != nil {
			t.Fatalf("run %d: %v", run_+1, err)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("payout system received %d deliveries %v, want October's once (November is open)", len(ids), ids)
	}
	// The delivery recorded the entries it paid: commission_entry_status
	// says paid by entry, since a statement may carry held entries of
	// earlier periods (issue #13).
	var paid []string
	rows, err := conn.Query(context.Background(), "SELECT entry_id FROM payout_delivery_entries FINAL ORDER BY entry_id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		paid = append(paid, id)
	}
	rows.Close()
	if strings.Join(paid, " ") != "e1" {
		t.Errorf("delivery recorded entries %v, want e1", paid)
	}
	// A delivered period that changed (period close makes that impossible
	// for the stage; here a row written behind its back) is not re-sent.
	insert(t, conn, `INSERT INTO commission_entries (entry_id, kind, payee_id, payee_type, currency, amount_minor, period, posted_at, partner_id)`,
		[]any{"e3", "adjustment", "A-1", "agent", "USD", int64(100), month("2026-10"), month("2026-11"), "acme"})
	if err := Statements(context.Background(), args, env); err == nil || !strings.Contains(err.Error(), "a delivered period changed") {
		t.Errorf("run after a delivered period changed: %v", err)
	}
	if len(ids) != 1 {
		t.Errorf("payout system received %d deliveries, want 1", len(ids))
	}
}

func month(s string) time.Time {
	t, _ := time.Parse("2006-01", s)
	return t
}

func insert(t *testing.T, conn driver.Conn, q string, rows ...[]any) {
	t.Helper()
	batch, err := conn.PrepareBatch(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := batch.Append(r...); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
}

// TestStatementsOutput (issue #12, --output json|table): the report of a
// reconciled run reads the same in both formats; json is machine-readable.
func TestStatementsOutput(t *testing.T) {
	t.Parallel()
	conn, dsn := testenv.ClickHouse(t, "statements_output_test", true)
	insert(t, conn, `INSERT INTO commission_entries (entry_id, kind, payee_id, payee_type, currency, amount_minor, period, posted_at, partner_id, hold_until)`,
		[]any{"e1", "accrual", "A-1", "agent", "USD", int64(150000), month("2026-10"), month("2026-10"), "acme", "2026-10-01"},
		[]any{"e2", "accrual", "B-2", "agent", "EUR", int64(2500), month("2026-10"), month("2026-10"), "acme", "2026-10-01"})
	tests := []struct {
		format string
		check  func(t *testing.T, out string)
	}{
		{"json", func(t *testing.T, out string) {
			var r statementsReport
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out)
			}
			if r.Statements != 2 || !r.Reconciled || r.Totals["USD"] != 150000 || r.Totals["EUR"] != 2500 {
				t.Errorf("report %+v, want 2 reconciled statements of USD 150000 and EUR 2500", r)
			}
		}},
		{"table", func(t *testing.T, out string) {
			for _, want := range []string{"2 statements for 2026-10-01 .. 2026-11-01", "USD         150000 minor units", "reconciled with ClickHouse"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var out bytes.Buffer
			args := []string{"statements", "--clickhouse", dsn, "--from", "2026-10-01", "--to", "2026-11-01", "--out", t.TempDir(), "--output", tt.format}
			if err := statements(context.Background(), args, func(string) string { return "" }, &out); err != nil {
				t.Fatal(err)
			}
			tt.check(t, out.String())
		})
	}
}

// TestStatementsHoldBackHeld (issue #13: a statement paid every entry of
// its period, held, pending and declined ones included): the command pays
// an accrual in the statement of the period it is released in (its hold
// ended, or approved), holds back the rest, and still reconciles with
// ClickHouse: the period's entries are what its statements pay, less what
// they carry in from earlier periods, plus what they hold back.
func TestStatementsHoldBackHeld(t *testing.T) {
	t.Parallel()
	conn, dsn := testenv.ClickHouse(t, "statements_held_test", true)
	q := `INSERT INTO commission_entries (entry_id, kind, payee_id, payee_type, currency, amount_minor, period, posted_at, partner_id,
		corrects, hold_until, decision)`
	insert(t, conn, q,
		[]any{"a1", "accrual", "A-1", "agent", "USD", int64(1000), month("2026-10"), month("2026-10"), "acme", "", "2026-10-15", ""},
		[]any{"a2", "accrual", "A-1", "agent", "USD", int64(2000), month("2026-10"), month("2026-10"), "acme", "", "2026-11-20", ""},
		[]any{"a3", "accrual", "A-1", "agent", "USD", int64(4000), month("2026-10"), month("2026-10"), "acme", "", "", ""}, // pending
		[]any{"a4", "accrual", "A-1", "agent", "USD", int64(8000), month("2026-10"), month("2026-10"), "acme", "", "2026-10-01", ""},
		[]any{"h4", "decision", "A-1", "agent", "USD", int64(0), month("2026-10"), month("2026-10"), "acme", "a4", "", "hold"},
		[]any{"d4", "decision", "A-1", "agent", "USD", int64(0), month("2026-11"), month("2026-11"), "acme", "a4", "", "decline"},
		[]any{"r4", "reversal", "A-1", "agent", "USD", int64(-8000), month("2026-11"), month("2026-11"), "acme", "a4", "", ""})
	tests := []struct {
		period                string
		paid, carried, heldBk int64
	}{
		{"2026-10", 1000, 0, 2000 + 4000 + 8000},
		{"2026-11", 2000, 2000, -8000},
	}
	for _, tt := range tests {
		t.Run(tt.period, func(t *testing.T) {
			t.Parallel()
			from := month(tt.period)
			var out bytes.Buffer
			args := []string{"statements", "--clickhouse", dsn, "--from", from.Format(time.DateOnly), "--to", from.AddDate(0, 1, 0).Format(time.DateOnly),
				"--out", t.TempDir(), "--output", "json"}
			if err := statements(context.Background(), args, func(string) string { return "" }, &out); err != nil {
				t.Fatal(err)
			}
			var r statementsReport
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			if r.Totals["USD"] != tt.paid || r.Carried["USD"] != tt.carried || r.HeldBack["USD"] != tt.heldBk || !r.Reconciled {
				t.Errorf("paid %d carried in %d held back %d reconciled %v, want %d %d %d true", r.Totals["USD"], r.Carried["USD"], r.HeldBack["USD"],
					r.Reconciled, tt.paid, tt.carried, tt.heldBk)
			}
		})
	}
}
