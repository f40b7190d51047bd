package pii

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/schemas"
)

func TestParseAge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int // 0: an error
	}{
		{"24m", 24}, {"1m", 1}, {"2y", 24}, {"7y", 84},
		{"", 0}, {"m", 0}, {"0m", 0}, {"-3m", 0}, {"24", 0}, {"24d", 0}, {"1.5y", 0},
	}
	for _, tt := range tests {
		got, err := ParseAge(tt.in)
		if got != tt.want || (err == nil) != (tt.want != 0) {
			t.Errorf("ParseAge(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

// retentionNow is the clock of the retention tests: with 24 months, 202411
// is the oldest month kept.
var retentionNow = time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC)

// seedMonths puts one row per month into referral_events, rejected_events
// and commission_entries of a migrated database.
func seedMonths(t *testing.T, conn driver.Conn, months ...string) {
	t.Helper()
	ctx := context.Background()
	// INSERT … SELECT: 18.16 takes a plain INSERT from clickhouse-go only
	// in the native block form.
	for _, m := range months {
		day := m[:4] + "-" + m[4:] + "-10"
		for _, q := range []string{
			fmt.Sprintf(`INSERT INTO referral_events (event_id, partner_id, lead_id, occurred_at) SELECT 'e-%s', 'acme', 'L-1', toDateTime('%s 00:00:00')`, m, day),
			fmt.Sprintf(`INSERT INTO rejected_events (stage, source_offset, failed_at) SELECT 'validate', %s, toDateTime('%s 00:00:00')`, m, day),
			fmt.Sprintf(`INSERT INTO commission_entries (entry_id, payee_id, amount_minor, period) SELECT 'c-%s', 'agent:A', 100, toDate('%s')`, m, day),
		} {
			if err := conn.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
}

// monthsOf lists a table's active partitions.
func monthsOf(t *testing.T, conn driver.Conn, table string) string {
	t.Helper()
	parts, err := partitions(context.Background(), conn, table)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range parts {
		ids = append(ids, p.Partition)
	}
	return strings.Join(ids, ",")
}

// TestRetention against the real ClickHouse: monthly partitions older than
// the age go, younger ones stay, money and the erasure audit stay unless a
// money table is named with --include-money at an age of at least seven
// years, and a dry run drops nothing.
func TestRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, dsn := testenv.ClickHouse(t, "pii_retention", true)
	all := "201801,202410,202411,202611"
	seedMonths(t, conn, strings.Split(all, ",")...)
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := retentionCommand(ctx, append([]string{"retention", "--clickhouse", dsn}, args...), func(string) string { return "" },
			&out, &out, func() time.Time { return retentionNow })
		return out.String(), err
	}

	out, err := run("--older-than", "24m", "--dry-run")
	if err != nil || !strings.Contains(out, "would drop referral_events partition 202410 (1 rows)") ||
		!strings.Contains(out, "skip commission_entries: money table, kept") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if got := monthsOf(t, conn, "referral_events"); got != all {
		t.Fatalf("a dry run dropped: referral_events has %s", got)
	}

	tests := []struct {
		name    string
		args    []string
		wantErr string
		want    map[string]string // table → partitions left
	}{
		{"money named without --include-money", []string{"--table", "commission_entries"}, "add --include-money", nil},
		{"money younger than seven years", []string{"--table", "commission_entries=24m", "--include-money"}, "at least 84 months", nil},
		{"the erasure audit", []string{"--table", "privacy_erasures"}, "no table of that name partitioned by month", nil},
		{"no such table", []string{"--table", "nope"}, "no table of that name", nil},
		{"default tables at 24 months", []string{"--older-than", "24m"}, "", map[string]string{
			"referral_events": "202411,202611", "rejected_events": "202411,202611", "commission_entries": all}},
		{"one table at its own age", []string{"--table", "referral_events=1m"}, "", map[string]string{
			"referral_events": "202611", "rejected_events": "202411,202611", "commission_entries": all}},
		{"money at seven years, named", []string{"--table", "commission_entries=7y", "--include-money"}, "", map[string]string{
			"referral_events": "202611", "commission_entries": "202410,202411,202611"}},
	}
	for _, tt := range tests { // in order: each run sees what the last left
		out, err := run(tt.args...)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v\n%s", tt.name, err, out)
		}
		for table, want := range tt.want {
			if got := monthsOf(t, conn, table); got != want {
				t.Errorf("%s: %s has %s, want %s\n%s", tt.name, table, got, want, out)
			}
		}
	}
}

// TestRetentionPolicyCoversEveryTable: every table the migrations create
// is classed, so a new table's retention is a decision, not an accident.
func TestRetentionPolicyCoversEveryTable(t *testing.T) {
	t.Parallel()
	ms, err := schemas.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	create := regexp.MustCompile(`CREATE TABLE IF NOT EXISTS ([A-Za-z0-9_]+)`)
	for _, m := range ms {
		for _, stmt := range m.Statements {
			for _, c := range create.FindAllStringSubmatch(stmt, -1) {
				if _, ok := RetentionPolicy[c[1]]; !ok {
					t.Errorf("migration %s creates %s, which internal/pii.RetentionPolicy does not class (events, analytics, money, audit or state)", m.Name, c[1])
				}
			}
		}
	}
}
