package statement

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
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
		{"late", month("2026-10"), "c4", "ops", int32(1), month("2026-11"), "attributions", int32(0), int64(12)}, // not confirmed done
	} {
		if err := batch.Append(r...); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	done, err := conn.PrepareBatch(ctx, `INSERT INTO commission_period_closes_done (partner_id, period, request_id, actor, done_at)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range [][]any{{"acme", month("2026-10"), "c1", "ops", month("2026-11")}, {"other", month("2026-10"), "c2", "ops", month("2026-11")},
		{"*", month("2026-09"), "c3", "ops", month("2026-10")}} {
		if err := done.Append(r...); err != nil {
			t.Fatal(err)
		}
	}
	if err := done.Send(); err != nil {
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
		entry("2", "agent:B", "acme", "2026-10"), entry("3", "agent:B", "other", "2026-10"), // a statement each; other's close incomplete
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
			n = append(n, s.PartnerID+" "+s.PayeeID+" "+s.Period)
		}
		return strings.Join(n, "|")
	}
	if got, want := names(payable)+" / "+names(open), "acme A 2026-10|acme B 2026-10|other C 2026-09 / other B 2026-10|acme D 2026-11"; got != want {
		t.Errorf("payable / open: %s, want %s", got, want)
	}
}

// TestPayoutHoldsBackUnapproved (issue #13: statements paid every entry of
// their period, held, pending and declined ones included): a period's
// statement pays the entries released in it — an accrual once approved
// (its hold passed, or an admin's approval, a named hold only by approval),
// its corrections with it or, posted later, in their own period; a held
// accrual is carried into the statement of the period it is released in;
// a pending one waits; one declined before release is never paid, nor its
// corrections; one declined after release has its reversal paid.
func TestPayoutHoldsBackUnapproved(t *testing.T) {
	t.Parallel()
	l := func(id, kind string, amount int64, period, holdUntil, corrects, decision string) Line {
		x := line(id, "agent:A", "USD", kind, amount, 1)
		x.Period, x.HoldUntil, x.Corrects, x.Decision = period+"-01", holdUntil, corrects, decision
		return x
	}
	lines := []Line{
		l("a1", "accrual", 1000, "2026-10", "2026-10-15", "", ""),
		l("a2", "accrual", 2000, "2026-10", "2026-12-20", "", ""),
		l("c1", "clawback", -500, "2026-11", "", "a2", ""),
		l("a3", "accrual", 3000, "2026-10", "2026-10-01", "", ""),
		l("h3", "decision", 0, "2026-10", "", "a3", "hold"),
		l("d3", "decision", 0, "2026-11", "", "a3", "approve"),
		l("a4", "accrual", 4000, "2026-10", "", "", ""),
		l("a5", "accrual", 5000, "2026-10", "2026-12-01", "", ""),
		l("d5", "decision", 0, "2026-11", "", "a5", "decline"),
		l("r5", "reversal", -5000, "2026-11", "", "a5", ""),
		l("a6", "accrual", 6000, "2026-10", "2026-10-02", "", ""),
		l("d6", "decision", 0, "2026-11", "", "a6", "decline"),
		l("r6", "reversal", -6000, "2026-11", "", "a6", ""),
		l("j1", "adjustment", 700, "2026-11", "", "", ""),
	}
	tests := []struct {
		period     string
		paid, held string
	}{
		{"2026-10", "a1 a6 = 7000", "a2 a3 a4 a5"},
		{"2026-11", "a3 j1 r6 = -2300", "c1 r5"},
		{"2026-12", "a2 c1 = 1500", ""},
	}
	for _, tt := range tests {
		t.Run(tt.period, func(t *testing.T) {
			t.Parallel()
			from, _ := time.Parse("2006-01", tt.period)
			pay, held := Payout(lines, from, from.AddDate(0, 1, 0))
			ss, err := Build(pay, from, from.AddDate(0, 1, 0))
			if err != nil {
				t.Fatal(err)
			}
			var ids, heldIDs []string
			var total int64
			for _, s := range ss {
				if s.Period != tt.period {
					t.Errorf("statement of %s in the run of %s", s.Period, tt.period)
				}
				for _, x := range s.Lines {
					ids = append(ids, x.LineID)
				}
				total += s.TotalMinor
			}
			for _, x := range held {
				if x.AmountMinor != 0 {
					heldIDs = append(heldIDs, x.LineID)
				}
			}
			sort.Strings(ids)
			sort.Strings(heldIDs)
			if got := fmt.Sprintf("%s = %d", strings.Join(ids, " "), total); got != tt.paid {
				t.Errorf("paid %s, want %s", got, tt.paid)
			}
			if got := strings.Join(heldIDs, " "); got != tt.held {
				t.Errorf("held back %s, want %s", got, tt.held)
			}
		})
	}
}

// TestBuildPerPartner (issue #13, found by the journal property test: a
// payee id two partners share had one statement per period for both, so
// entries one partner posted after the other's close changed a statement
// already delivered): statements are per partner, payee, currency and
// period, payable once the period is closed for their partner.
func TestBuildPerPartner(t *testing.T) {
	t.Parallel()
	of := func(id, partner string, amount int64) Line {
		l := line(id, "customer:D", "USD", "adjustment", amount, 1)
		l.PartnerID, l.Period = partner, "2026-10-01"
		return l
	}
	ss, err := Build([]Line{of("1", "acme", -4155), of("2", "other", 744), of("3", "acme", 5)}, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range ss {
		got = append(got, fmt.Sprintf("%s %s:%s %d", s.PartnerID, s.PayeeType, s.PayeeID, s.TotalMinor))
	}
	if want := "acme customer:D -4150|other customer:D 744"; strings.Join(got, "|") != want {
		t.Fatalf("statements %s, want %s", strings.Join(got, "|"), want)
	}
	payable, open := Payable(ss, map[string]map[string]bool{"acme": {"2026-10": true}})
	if len(payable) != 1 || payable[0].PartnerID != "acme" || len(open) != 1 {
		t.Errorf("payable %+v, open %+v: want acme's only", payable, open)
	}
	dir := t.TempDir()
	if err := WriteDir(dir, ss); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"acme_customer_D_USD_2026-10.csv", "other_customer_D_USD_2026-10.csv"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
}

// TestReadJournalInPayoutCurrency (issue #18, FX snapshot): a payee paid
// in another currency gets its statement in that currency, the sum of the
// entries' snapshot amounts (never converted again), and ClickHouse's
// ledger sums the same way, so the two reconcile to the minor unit. An
// entry without a rate (held fx:missing_rate) stays in its own currency.
func TestReadJournalInPayoutCurrency(t *testing.T) {
	t.Parallel()
	conn := journalDB(t)
	ctx := context.Background()
	batch, err := conn.PrepareBatch(ctx, `INSERT INTO commission_entries (entry_id, kind, payee_id, payee_type, currency, amount_minor,
		period, posted_at, corrects, override_level, payout_currency, payout_amount_minor, fx_rate)`)
	if err != nil {
		t.Fatal(err)
	}
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	oct, octAt := day("2026-10-01"), day("2026-10-03")
	for _, r := range [][]any{
		{"e1", "accrual", "A", "agent", "USD", int64(5000), oct, octAt, "", uint8(0), "EUR", int64(4625), "0.925"},
		{"e2", "clawback", "A", "agent", "USD", int64(-2507), oct, octAt, "e1", uint8(0), "EUR", int64(-2319), "0.925"},
		{"e3", "decision", "A", "agent", "USD", int64(0), oct, octAt, "e1", uint8(0), "EUR", int64(0), "0.925"},
		{"e4", "accrual", "B", "agent", "USD", int64(1250), oct, octAt, "", uint8(0), "JPY", int64(0), ""},
		{"e5", "accrual", "C", "agent", "USD", int64(700), oct, octAt, "", uint8(0), "", int64(0), ""},
	} {
		if err := batch.Append(r...); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	lines, err := Read(ctx, conn, from, to)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := Build(lines, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range ss {
		got = append(got, s.PayeeType+":"+s.PayeeID+" "+s.Currency+" "+s.Period+" "+s.Total)
	}
	if want := "agent:A EUR 2026-10 23.06|agent:B USD 2026-10 12.50|agent:C USD 2026-10 7.00"; strings.Join(got, "|") != want {
		t.Errorf("statements %s, want %s", strings.Join(got, "|"), want)
	}
	ledger, err := Ledger(ctx, conn, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if d := Reconcile(Totals(ss), ledger); len(d) > 0 || fmt.Sprint(ledger) != fmt.Sprint(map[string]int64{"EUR": 2306, "USD": 1950}) {
		t.Errorf("ledger %v; reconcile %v", ledger, d)
	}
	for _, l := range lines {
		if l.LineID == "e2" && (l.EntryCurrency != "USD" || l.EntryAmountMinor != -2507 || l.FXRate != "0.925") {
			t.Errorf("e2 read as %+v: the posted amount is lost", l)
		}
	}
}
