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
// its own, in the period it was posted in. An entry with an FX snapshot
// (issue #18: its payee is paid in another currency) is read in its payout
// currency (see payout), so statements are in the currency paid.
func Read(ctx context.Context, conn driver.Conn, from, to time.Time) ([]Line, error) {
	rows, err := conn.Query(ctx, `SELECT entry_id, payee_type, payee_id, currency, amount_minor, kind, policy_id,
		attribution_id, rule_set_version, rule_id, source_entry_id, corrects, override_level, toString(period), posted_at, partner_id,
		hold_until, decision, payout_currency, payout_amount_minor, fx_rate
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
			&l.AttributionID, &l.RuleSetVersion, &l.RuleID, &l.SourceLineID, &l.Corrects, &level, &l.Period, &l.At, &l.PartnerID,
			&l.HoldUntil, &l.Decision, &l.PayoutCurrency, &l.PayoutAmountMinor, &l.FXRate); err != nil {
			return nil, fmt.Errorf("read journal entry: %w", err)
		}
		l.OverrideLevel = int(level)
		out = append(out, payout(l))
	}
	return out, rows.Err()
}

// Ledger is what ClickHouse says the periods' totals are, per currency
// paid (an entry with an FX snapshot in its payout currency, as Read
// reads it), computed by the database rather than from the entries read.
func Ledger(ctx context.Context, conn driver.Conn, from, to time.Time) (map[string]int64, error) {
	rows, err := conn.Query(ctx, `SELECT if(fx_rate != '', payout_currency, currency) AS paid_currency,
		toInt64(sum(if(fx_rate != '', payout_amount_minor, amount_minor))) FROM commission_entries FINAL
		WHERE period >= toDate(?) AND period < toDate(?) GROUP BY paid_currency`, day(from), day(to))
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
// recorded on as many attributions partitions as the close was written to,
// and that close-period confirmed done (every entry posted before the
// close is in ClickHouse). A close seen on fewer, or not confirmed, is
// still under way.
func Closed(ctx context.Context, conn driver.Conn) (map[string]map[string]bool, error) {
	seen, err := periods(ctx, conn, `SELECT partner_id, toString(period) FROM commission_period_closes FINAL
		GROUP BY partner_id, period, kafka_topic HAVING uniqExact(kafka_partition) >= max(partitions)`)
	if err != nil {
		return nil, fmt.Errorf("read closed periods: %w", err)
	}
	done, err := periods(ctx, conn, `SELECT partner_id, toString(period) FROM commission_period_closes_done FINAL`)
	if err != nil {
		return nil, fmt.Errorf("read confirmed period closes: %w", err)
	}
	out := map[string]map[string]bool{}
	for partner, ps := range seen {
		for period := range ps {
			if !done[partner][period] {
				continue
			}
			if out[partner] == nil {
				out[partner] = map[string]bool{}
			}
			out[partner][period] = true
		}
	}
	return out, nil
}

// periods reads (partner, period) rows as partner → YYYY-MM → true.
func periods(ctx context.Context, conn driver.Conn, q string) (map[string]map[string]bool, error) {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]bool{}
	for rows.Next() {
		var partner, period string
		if err := rows.Scan(&partner, &period); err != nil {
			return nil, err
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

// Net sums lines per currency.
func Net(lines []Line) map[string]int64 {
	t := map[string]int64{}
	for _, l := range lines {
		t[l.Currency] += l.AmountMinor
	}
	return t
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

// payout turns an entry with an FX snapshot into its payout currency and
// amount, keeping what the journal posted in EntryCurrency and
// EntryAmountMinor (commission.PayoutOf is the same rule: the amounts are
// the snapshot's, summed, never converted again).
func payout(l Line) Line {
	if l.FXRate == "" {
		l.PayoutCurrency, l.PayoutAmountMinor = "", 0
		return l
	}
	l.EntryCurrency, l.EntryAmountMinor = l.Currency, l.AmountMinor
	l.Currency, l.AmountMinor = l.PayoutCurrency, l.PayoutAmountMinor
	l.PayoutCurrency, l.PayoutAmountMinor = "", 0
	return l
}
