package payout

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/reftrack/reftrack/commission/statement"
)

// Delivered reads the totals of the statements delivered so far, by
// delivery id, from payout_deliveries.
func Delivered(ctx context.Context, conn driver.Conn) (map[string]int64, error) {
	rows, err := conn.Query(ctx, `SELECT delivery_id, total_minor FROM payout_deliveries FINAL`)
	if err != nil {
		return nil, fmt.Errorf("read payout deliveries: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var total int64
		if err := rows.Scan(&id, &total); err != nil {
			return nil, fmt.Errorf("read payout delivery: %w", err)
		}
		out[id] = total
	}
	return out, rows.Err()
}

// Record notes that the payout system accepted s at t: its entries are paid.
func Record(ctx context.Context, conn driver.Conn, s statement.Statement, t time.Time) error {
	period, err := time.Parse("2006-01", s.Period)
	if err != nil {
		return fmt.Errorf("record delivery of %s %s: period %q: %w", s.PayeeType, s.PayeeID, s.Period, err)
	}
	// A batch, not Exec with parameters: ClickHouse 18.16 answers an
	// INSERT only in the native block form, with its columns named.
	batch, err := conn.PrepareBatch(ctx, `INSERT INTO payout_deliveries (delivery_id, payee_type, payee_id, currency, period,
		statement_number, total_minor, entries, delivered_at)`)
	if err == nil {
		err = batch.Append(DeliveryID(s), s.PayeeType, s.PayeeID, s.Currency, period, uint32(s.Number), s.TotalMinor,
			uint32(len(s.Lines)), t.UTC())
	}
	if err == nil {
		err = batch.Send()
	}
	if err != nil {
		return fmt.Errorf("record delivery %s: %w", DeliveryID(s), err)
	}
	return nil
}

// Plan sorts statements to deliver against what was delivered: those never
// delivered are sent; those delivered with the same total are skipped (a
// re-run pays nothing again). One delivered with another total means a
// delivered period changed, which period close rules out: an error, since
// the payout system would ignore the new total under the known id.
func Plan(ss []statement.Statement, delivered map[string]int64) (send, skip []statement.Statement, err error) {
	for _, s := range ss {
		was, ok := delivered[DeliveryID(s)]
		switch {
		case !ok:
			send = append(send, s)
		case was == s.TotalMinor:
			skip = append(skip, s)
		default:
			return nil, nil, fmt.Errorf("statement %s of %s %s %s for %s was delivered with total %d and now totals %d: a delivered period changed",
				DeliveryID(s), s.PayeeType, s.PayeeID, s.Currency, s.Period, was, s.TotalMinor)
		}
	}
	return send, skip, nil
}
