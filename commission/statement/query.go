package statement

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Read loads the journal entries of the accounting periods that start in
// [from, to) from ClickHouse, with FINAL so that a row the sink wrote twice
// counts once. Entries are never superseded: a correction is an entry of
// its own, in the period it was posted in.
func Read(ctx context.Context, conn driver.Conn, from, to time.Time) ([]Line, error) {
	rows, err := conn.Query(ctx, `SELECT entry_id, payee_type, payee_id, currency, amount_minor, kind, policy_id,
		attribution_id, rule_set_version, rule_id, source_entry_id, corrects, override_level, toString(period), posted_at
		FROM commission_entries FINAL WHERE period >= toDate(?) AND period < toDate(?)`, day(from), day(to))
	if err != nil {
		return nil, fmt.Errorf("read journal entries: %w", err)
	}
	defer rows.Close()
	var out []Line
	for rows.Next() {
		var l Line
		var level uint8
		if err := rows.Scan(&l.LineID, &l.PayeeType, &l.PayeeID, &l.Currency, &l.AmountMinor, &l.Kind, &l.PolicyID,
			&l.AttributionID, &l.RuleSetVersion, &l.RuleID, &l.SourceLineID, &l.Corrects, &level, &l.Period, &l.At); err != nil {
			return nil, fmt.Errorf("read journal entry: %w", err)
		}
		l.OverrideLevel = int(level)
		out = append(out, l)
	}
	return out, rows.Err()
}

// Ledger is what ClickHouse says the periods' totals are, per currency,
// computed by the database rather than from the entries read.
func Ledger(ctx context.Context, conn driver.Conn, from, to time.Time) (map[string]int64, error) {
	rows, err := conn.Query(ctx, `SELECT currency, toInt64(sum(amount_minor)) FROM commission_entries FINAL
		WHERE period >= toDate(?) AND period < toDate(?) GROUP BY currency`, day(from), day(to))
	if err != nil {
		return nil, fmt.Errorf("sum journal entries: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var c string
		var v int64
		if err := rows.Scan(&c, &v); err != nil {
			return nil, fmt.Errorf("sum journal entries: %w", err)
		}
		out[c] = v
	}
	return out, rows.Err()
}

// day is t's UTC date as ClickHouse's toDate reads it.
func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// Reconcile lists every currency where statements and ledger disagree.
func Reconcile(statements, ledger map[string]int64) []string {
	var diff []string
	for c, v := range ledger {
		if statements[c] != v {
			diff = append(diff, fmt.Sprintf("%s: statements %d, ClickHouse %d", c, statements[c], v))
		}
	}
	for c, v := range statements {
		if _, ok := ledger[c]; !ok && v != 0 {
			diff = append(diff, fmt.Sprintf("%s: statements %d, ClickHouse none", c, v))
		}
	}
	return diff
}
