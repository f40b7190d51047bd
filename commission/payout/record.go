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

// Record notes that the payout system accepted s at t: its entries are
// paid. The entries first (payout_delivery_entries), then the delivery
// (payout_deliveries), which marks it done: a crash in between re-sends
// the same delivery id and total on the next run, and the entries' rows
// are written again under the same keys.
func Record(ctx context.Context, conn driver.Conn, s statement.Statement, t time.Time) error {
	period, err := time.Parse("2006-01", s.Period)
	if err != nil {
		return fmt.Errorf("record delivery of %s %s: period %q: %w", s.PayeeType, s.PayeeID, s.Period, err)
	}
	id := DeliveryID(s)
	if err := recordEntries(ctx, conn, id, s.Lines, t); err != nil {
		return fmt.Errorf("record entries of delivery %s: %w", id, err)
	}
	// A batch, not Exec with parameters: ClickHouse 18.16 answers an
	// INSERT only in the native block form, with its columns named.
	batch, err := conn.PrepareBatch(ctx, `INSERT INTO payout_deliveries (delivery_id, payee_type, payee_id, currency, period,
		statement_number, total_minor, entries, delivered_at, partner_id)`)
	if err == nil {
		err = batch.Append(id, s.PayeeType, s.PayeeID, s.Currency, period, uint32(s.Number), s.TotalMinor,
			uint32(len(s.Lines)), t.UTC(), s.PartnerID)
	}
	if err == nil {
		err = batch.Send()
	}
	if err != nil {
		return fmt.Errorf("record delivery %s: %w", id, err)
	}
	return nil
}

// recordEntries writes which entries delivery id paid: a statement may pay
// entries of earlier periods released in its own, so an entry's payee and
// period no longer say whether it was paid.
func recordEntries(ctx context.Context, conn driver.Conn, id string, lines []statement.Line, t time.Time) error {
	if len(lines) == 0 {
		return nil
	}
	batch, err := conn.PrepareBatch(ctx, `INSERT INTO payout_delivery_entries (delivery_id, entry_id, delivered_at)`)
	if err != nil {
		return err
	}
	for _, l := range lines {
		if err := batch.Append(id, l.LineID, t.UTC()); err != nil {
			_ = batch.Abort()
			return err
		}
	}
	return batch.Send()
}

// Plan sorts statements to deliver against what was delivered: those never
// delivered are sent; those delivered with the same total are skipped (a
// re-run pays nothing again), and so are those whose payee, currency and
// period were delivered before statements were per partner. One delivered with another total means a
// delivered period changed, which period close rules out: an error, since
// the payout system would ignore the new total under the known id.
func Plan(ss []statement.Statement, delivered map[string]int64) (send, skip []statement.Statement, err error) {
	for _, s := range ss {
		was, ok := delivered[DeliveryID(s)]
		if _, legacy := delivered[LegacyDeliveryID(s)]; !ok && legacy && s.PartnerID != "" {
			// Paid under the id of a statement of every partner's entries
			// of this payee id, before statements were per partner.
			skip = append(skip, s)
			continue
		}
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
