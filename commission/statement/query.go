package statement

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Read loads the period's commission lines from ClickHouse with FINAL, so
// superseded versions and replayed rows never reach a statement.
func Read(ctx context.Context, conn driver.Conn, from, to time.Time) ([]Line, error) {
	rows, err := conn.Query(ctx, `SELECT line_id, payee_type, payee_id, currency, amount_minor, kind, policy_id,
		attribution_id, rule_set_version, rule_id, source_line_id, converted_at
		FROM commission_lines FINAL WHERE converted_at >= ? AND converted_at < ?`, from, to)
	if err != nil {
		return nil, fmt.Errorf("read commission lines: %w", err)
	}
	defer rows.Close()
	var out []Line
	for rows.Next() {
		var l Line
		if err := rows.Scan(&l.LineID, &l.PayeeType, &l.PayeeID, &l.Currency, &l.AmountMinor, &l.Kind, &l.PolicyID,
			&l.AttributionID, &l.RuleSetVersion, &l.RuleID, &l.SourceLineID, &l.At); err != nil {
			return nil, fmt.Errorf("read commission line: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// Ledger is what ClickHouse says the period totals are, per currency,
// computed by the database rather than from the lines read.
func Ledger(ctx context.Context, conn driver.Conn, from, to time.Time) (map[string]int64, error) {
	rows, err := conn.Query(ctx, `SELECT currency, toInt64(sum(amount_minor)) FROM commission_lines FINAL
		WHERE converted_at >= ? AND converted_at < ? GROUP BY currency`, from, to)
	if err != nil {
		return nil, fmt.Errorf("sum commission lines: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var c string
		var v int64
		if err := rows.Scan(&c, &v); err != nil {
			return nil, err
		}
		out[c] = v
	}
	return out, rows.Err()
}

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
