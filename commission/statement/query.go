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
		attribution_id, rule_set_version, rule_id, source_entry_id, corrects, override_level, toString(period), posted_at, partner_id
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
			&l.AttributionID, &l.RuleSetVersion, &l.RuleID, &l.SourceLineID, &l.Corrects, &level, &l.Period, &l.At, &l.PartnerID); err != nil {
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

// Closed reads which periods (YYYY-MM) are closed for which partner
// (schemas.AllPartners: for every partner): those whose close the sink
// recorded on as many attributions partitions as the close was written to.
// A close seen on fewer is still under way.
func Closed(ctx context.Context, conn driver.Conn) (map[string]map[string]bool, error) {
	rows, err := conn.Query(ctx, `SELECT partner_id, toString(period) FROM commission_period_closes FINAL
		GROUP BY partner_id, period, kafka_topic HAVING uniqExact(kafka_partition) >= max(partitions)`)
	if err != nil {
		return nil, fmt.Errorf("read closed periods: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]bool{}
	for rows.Next() {
		var partner, period string
		if err := rows.Scan(&partner, &period); err != nil {
			return nil, fmt.Errorf("read closed period: %w", err)
		}
		if out[partner] == nil {
			out[partner] = map[string]bool{}
		}
		out[partner][monthOf(period)] = true
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
