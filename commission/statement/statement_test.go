package statement

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/reftrack/reftrack/internal/testenv"
)

var from, to = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func line(id, payee, cur, kind string, amount int64, day int) Line {
	typ, pid, _ := strings.Cut(payee, ":")
	return Line{LineID: id, PayeeType: typ, PayeeID: pid, Currency: cur, Kind: kind, AmountMinor: amount,
		At: from.AddDate(0, 0, day), PolicyID: "P-" + id, RuleID: "r"}
}

func override(l Line) Line {
	l.OverrideLevel = 1
	return l
}

func TestBuild(t *testing.T) {
	t.Parallel()
	ss, err := Build([]Line{
		line("3", "agent:A", "USD", "accrual", 12000, 3),
		line("1", "agent:A", "USD", "accrual", 5005, 1),
		line("2", "agent:A", "USD", "clawback", -1001, 2),
		line("4", "agent:A", "EUR", "accrual", 700, 1),
		override(line("5", "agency:G", "USD", "accrual", 1200, 3)),
		line("6", "broker:B", "USD", "accrual", 0, 3), // no credit: left out
		line("7", "agent:A", "JPY", "accrual", 1500, 4),
	}, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range ss {
		got = append(got, s.PayeeType+":"+s.PayeeID+" "+s.Currency+" "+s.Total)
	}
	// 120.00 + 50.05 - 10.01 = 160.04 USD for A; yen have no minor unit.
	want := "agency:G USD 12.00|agent:A EUR 7.00|agent:A JPY 1500|agent:A USD 160.04"
	if strings.Join(got, "|") != want {
		t.Fatalf("statements %s, want %s", strings.Join(got, "|"), want)
	}
	a := ss[3]
	if a.Commissions != 17005 || a.Clawbacks != -1001 || a.Lines[0].LineID != "1" || a.Lines[1].Amount != "-10.01" {
		t.Errorf("agent A USD: %+v", a)
	}
	if g := ss[0]; g.Overrides != 1200 || g.Commissions != 0 {
		t.Errorf("agency G USD: %+v", g)
	}
	tot := Totals(ss)
	if tot["USD"] != 17204 || tot["EUR"] != 700 || tot["JPY"] != 1500 {
		t.Errorf("totals %v", tot)
	}
	if d := Reconcile(tot, map[string]int64{"USD": 17204, "EUR": 700, "JPY": 1500}); len(d) != 0 {
		t.Errorf("reconcile: %v", d)
	}
	if d := Reconcile(tot, map[string]int64{"USD": 17205, "EUR": 700}); len(d) != 2 {
		t.Errorf("reconcile must report USD and JPY: %v", d)
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, a); err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(rows) != 5 || !strings.HasSuffix(rows[4], ",total,,,,,,,16004,160.04") {
		t.Errorf("csv:\n%s", buf.String())
	}
	dir := t.TempDir()
	if err := WriteDir(dir, ss); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Totals map[string]int64 `json:"totals_minor"`
	}
	if err := json.Unmarshal(b, &sum); err != nil || sum.Totals["USD"] != 17204 {
		t.Errorf("summary %s", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "agent_A_USD.csv")); err != nil {
		t.Error(err)
	}
}

// TestBuildByKind: every kind of entry counts in its own subtotal and all
// of them in the total.
func TestBuildByKind(t *testing.T) {
	t.Parallel()
	ss, err := Build([]Line{
		line("1", "agent:A", "USD", "accrual", 10000, 1),
		line("2", "agent:A", "USD", "clawback", -4000, 2),
		line("3", "agent:A", "USD", "reinstatement", 1000, 3),
		line("4", "agent:A", "USD", "reversal", -7000, 4),
		line("5", "agent:A", "USD", "adjustment", 250, 5),
		override(line("6", "agent:A", "USD", "accrual", 300, 6)),
	}, from, to)
	if err != nil {
		t.Fatal(err)
	}
	s := ss[0]
	got := []int64{s.Commissions, s.Clawbacks, s.Reinstatements, s.Reversals, s.Adjustments, s.Overrides, s.TotalMinor}
	if want := []int64{10000, -4000, 1000, -7000, 250, 300, 550}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("subtotals and total %v, want %v", got, want)
	}
}

// TestBuildPerPeriod: a statement holds one accounting period's entries,
// bounded by that period, numbered 1; a range of periods gives one
// statement per period.
func TestBuildPerPeriod(t *testing.T) {
	t.Parallel()
	at := func(l Line, period string) Line { l.Period = period; return l }
	ss, err := Build([]Line{
		at(line("1", "agent:A", "USD", "accrual", 10000, 1), "2026-10-01"),
		at(line("2", "agent:A", "USD", "clawback", -4000, 40), "2026-11-01"),
		at(line("3", "agent:A", "USD", "adjustment", 500, 2), "2026-10-01"),
	}, from, to.AddDate(0, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range ss {
		got = append(got, fmt.Sprintf("%s #%d %s..%s %d/%d", s.Period, s.Number, s.From.Format(time.DateOnly), s.To.Format(time.DateOnly), s.TotalMinor, len(s.Lines)))
	}
	if want := "2026-10 #1 2026-10-01..2026-11-01 10500/2|2026-11 #1 2026-11-01..2026-12-01 -4000/1"; strings.Join(got, "|") != want {
		t.Errorf("statements %s, want %s", strings.Join(got, "|"), want)
	}
	dir := t.TempDir()
	if err := WriteDir(dir, ss); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"agent_A_USD_2026-10.csv", "agent_A_USD_2026-11.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
}

// TestReadJournal: statements read the journal's entries of the periods
// asked for, a row written twice once, and Ledger agrees.
func TestReadJournal(t *testing.T) {
	t.Parallel()
	conn := journalDB(t)
	ctx := context.Background()
	batch, err := conn.PrepareBatch(ctx, `INSERT INTO commission_entries (entry_id, kind, payee_id, payee_type, currency, amount_minor,
		period, posted_at, corrects, override_level)`)
	if err != nil {
		t.Fatal(err)
	}
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	for _, r := range [][]any{
		{"e1", "accrual", "A", "agent", "USD", int64(10000), day("2026-10-01"), day("2026-10-03"), "", uint8(0)},
		{"e1", "accrual", "A", "agent", "USD", int64(10000), day("2026-10-01"), day("2026-10-03"), "", uint8(0)}, // written twice
		{"e2", "accrual", "G", "agency", "USD", int64(1000), day("2026-10-01"), day("2026-10-03"), "", uint8(1)},
		{"e3", "clawback", "A", "agent", "USD", int64(-2500), day("2026-11-01"), day("2026-11-20"), "e1", uint8(0)},
		{"e4", "adjustment", "A", "agent", "EUR", int64(700), day("2026-09-01"), day("2026-09-20"), "", uint8(0)},
	} {
		if err := batch.Append(r...); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		from, to time.Time
		want     string
		ledger   map[string]int64
	}{
		{"october", from, to, "agency:G USD 2026-10 10.00|agent:A USD 2026-10 100.00", map[string]int64{"USD": 11000}},
		// One statement per period: November's clawback is not netted
		// into October's statement (see TestBuildPerPeriod).
		{"october and november", from, to.AddDate(0, 1, 0), "agency:G USD 2026-10 10.00|agent:A USD 2026-10 100.00|agent:A USD 2026-11 -25.00",
			map[string]int64{"USD": 8500}},
		{"all time", time.Unix(0, 0), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
			"agency:G USD 2026-10 10.00|agent:A EUR 2026-09 7.00|agent:A USD 2026-10 100.00|agent:A USD 2026-11 -25.00",
			map[string]int64{"USD": 8500, "EUR": 700}},
	}
	for _, tt := range tests {
		lines, err := Read(ctx, conn, tt.from, tt.to)
		if err != nil {
			t.Fatal(err)
		}
		ss, err := Build(lines, tt.from, tt.to)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range ss {
			got = append(got, s.PayeeType+":"+s.PayeeID+" "+s.Currency+" "+s.Period+" "+s.Total)
		}
		if strings.Join(got, "|") != tt.want {
			t.Errorf("%s: statements %s, want %s", tt.name, strings.Join(got, "|"), tt.want)
		}
		ledger, err := Ledger(ctx, conn, tt.from, tt.to)
		if err != nil {
			t.Fatal(err)
		}
		if d := Reconcile(Totals(ss), ledger); len(d) > 0 || fmt.Sprint(ledger) != fmt.Sprint(tt.ledger) {
			t.Errorf("%s: ledger %v, want %v; reconcile %v", tt.name, ledger, tt.ledger, d)
		}
	}
}

// journalDB is a fresh database with reftrack's migrations on the dev
// stack's ClickHouse.
func journalDB(t *testing.T) driver.Conn {
	t.Helper()
	conn, _ := testenv.ClickHouse(t, "statement_test", true)
	return conn
}

// TestPayableOnlyOnceClosed: a period's statement goes to the payout
// system only once its period is closed, on every attributions partition,
// for every partner with an entry in it (or for all partners): its delivery
// id is paid once, so an open period's statement would leave its later
// entries unpaid.
func TestPayableOnlyOnceClosed(t *testing.T) {
	t.Parallel()
	conn := journalDB(t)
	ctx := context.Background()
	batch, err := conn.PrepareBatch(ctx, `INSERT INTO commission_period_closes (partner_id, period, request_id, actor, partitions, closed_at,
		kafka_topic, kafka_partition, kafka_offset)`)
	if err != nil {
		t.Fatal(err)
	}
	month := func(s string) time.Time { d, _ := time.Parse("2006-01", s); return d }
	for _, r := range [][]any{
		{"acme", month("2026-10"), "c1", "ops", int32(2), month("2026-11"), "attributions", int32(0), int64(10)},
		{"acme", month("2026-10"), "c1", "ops", int32(2), month("2026-11"), "attributions", int32(1), int64(20)},
		{"other", month("2026-10"), "c2", "ops", int32(2), month("2026-11"), "attributions", int32(0), int64(11)}, // one of two
		{"other", month("2026-10"), "c2", "ops", int32(2), month("2026-11"), "attributions", int32(0), int64(11)}, // written twice
		{"*", month("2026-09"), "c3", "ops", int32(2), month("2026-10"), "attributions", int32(0), int64(5)},
		{"*", month("2026-09"), "c3", "ops", int32(2), month("2026-10"), "attributions", int32(1), int64(6)},
	} {
		if err := batch.Append(r...); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	closed, err := Closed(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(closed); got != "map[*:map[2026-09:true] acme:map[2026-10:true]]" {
		t.Errorf("closed %s", got)
	}
	entry := func(id, payee, partner, period string) Line {
		l := line(id, payee, "USD", "accrual", 100, 1)
		l.PartnerID, l.Period = partner, period+"-01"
		return l
	}
	ss, err := Build([]Line{
		entry("1", "agent:A", "acme", "2026-10"),                                            // closed for acme
		entry("2", "agent:B", "acme", "2026-10"), entry("3", "agent:B", "other", "2026-10"), // other's close incomplete
		entry("4", "agent:C", "other", "2026-09"), // closed for all partners
		entry("5", "agent:D", "acme", "2026-11"),  // open
	}, from, to)
	if err != nil {
		t.Fatal(err)
	}
	payable, open := Payable(ss, closed)
	names := func(ss []Statement) string {
		var n []string
		for _, s := range ss {
			n = append(n, s.PayeeID+" "+s.Period)
		}
		return strings.Join(n, "|")
	}
	if got, want := names(payable)+" / "+names(open), "A 2026-10|C 2026-09 / B 2026-10|D 2026-11"; got != want {
		t.Errorf("payable / open: %s, want %s", got, want)
	}
}
