package statement

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var from, to = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func line(id, payee, cur, kind string, amount int64, day int) Line {
	typ, pid, _ := strings.Cut(payee, ":")
	return Line{LineID: id, PayeeType: typ, PayeeID: pid, Currency: cur, Kind: kind, AmountMinor: amount,
		At: from.AddDate(0, 0, day), PolicyID: "P-" + id, RuleID: "r"}
}

func TestBuild(t *testing.T) {
	t.Parallel()
	ss, err := Build([]Line{
		line("3", "agent:A", "USD", "commission", 12000, 3),
		line("1", "agent:A", "USD", "commission", 5005, 1),
		line("2", "agent:A", "USD", "clawback", -1001, 2),
		line("4", "agent:A", "EUR", "commission", 700, 1),
		line("5", "agency:G", "USD", "override", 1200, 3),
		line("6", "broker:B", "USD", "commission", 0, 3), // no credit: left out
		line("7", "agent:A", "JPY", "commission", 1500, 4),
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
	if len(rows) != 5 || !strings.HasSuffix(rows[4], ",total,,,,,,16004,160.04") {
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
