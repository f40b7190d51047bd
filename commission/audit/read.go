package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/reftrack/reftrack/schemas"
)

// ErrNoEntry is returned by ReadEntry for an id ClickHouse does not hold.
var ErrNoEntry = errors.New("no such journal entry")

// entryColumns are the columns that hold every field of an entry, in the
// order scan reads them. period is a Date: its month is the entry's period.
const entryColumns = `entry_id, kind, payee_id, payee_type, currency, amount_minor, toString(period), corrects, cause_id,
	attribution_id, attribution_version, policy_id, partner_id, lead_id, product_line, sale_type, model, weight_bp,
	rule_set_version, rule_id, premium_minor, base_minor, rate, band, min_applied, cap_applied, residue_minor,
	override_level, source_entry_id, cancelled_on, actor, reason, chain, chain_seq, prev_hash, hash, hold_until, decision,
	licence_check, payout_currency, payout_amount_minor, fx_rate, fx_source, fx_as_of, model_version`

// Read loads every chained entry of commission_entries in chain order.
// FINAL, because that is what every balance reads: a forged row that
// replaces an entry there is what the chain must catch.
func Read(ctx context.Context, conn driver.Conn) ([]schemas.JournalEntry, error) {
	rows, err := conn.Query(ctx, `SELECT `+entryColumns+` FROM commission_entries FINAL
		WHERE chain_seq > 0 ORDER BY chain, chain_seq`)
	if err != nil {
		return nil, fmt.Errorf("read chained journal entries: %w", err)
	}
	defer rows.Close()
	var out []schemas.JournalEntry
	for rows.Next() {
		e, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read chained journal entries: %w", err)
	}
	return out, nil
}

// ReadEntry loads one entry by id.
func ReadEntry(ctx context.Context, conn driver.Conn, id string) (schemas.JournalEntry, error) {
	rows, err := conn.Query(ctx, `SELECT `+entryColumns+` FROM commission_entries FINAL WHERE entry_id = ? LIMIT 1`, id)
	if err != nil {
		return schemas.JournalEntry{}, fmt.Errorf("read journal entry %s: %w", id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return schemas.JournalEntry{}, fmt.Errorf("read journal entry %s: %w", id, err)
		}
		return schemas.JournalEntry{}, fmt.Errorf("%w: %s", ErrNoEntry, id)
	}
	return scan(rows)
}

// scan turns a row of entryColumns back into the entry the stage emitted,
// field for field, so that its canonical bytes are the ones it was sealed
// with.
func scan(rows driver.Rows) (schemas.JournalEntry, error) {
	var e schemas.JournalEntry
	var period string
	var weight uint16
	var minApplied, capApplied, level uint8
	if err := rows.Scan(&e.EntryID, &e.Kind, &e.PayeeID, &e.PayeeType, &e.Currency, &e.AmountMinor, &period, &e.Corrects,
		&e.CauseID, &e.AttributionID, &e.AttributionVersion, &e.PolicyID, &e.PartnerID, &e.LeadID, &e.ProductLine,
		&e.SaleType, &e.Model, &weight, &e.RuleSetVersion, &e.RuleID, &e.PremiumMinor, &e.BaseMinor, &e.Rate, &e.Band,
		&minApplied, &capApplied, &e.ResidueMinor, &level, &e.SourceEntryID, &e.CancelledOn, &e.Actor, &e.Reason,
		&e.Chain, &e.ChainSeq, &e.PrevHash, &e.Hash, &e.HoldUntil, &e.Decision,
		&e.LicenceCheck, &e.PayoutCurrency, &e.PayoutAmountMinor, &e.FXRate, &e.FXSource, &e.FXAsOf, &e.ModelVersion); err != nil {
		return e, fmt.Errorf("scan journal entry: %w", err)
	}
	if len(period) < len("2006-01") {
		return e, fmt.Errorf("journal entry %s: period %q is not a date", e.EntryID, period)
	}
	e.Period = period[:len("2006-01")]
	e.WeightBP, e.OverrideLevel = int(weight), int(level)
	e.MinApplied, e.CapApplied = minApplied != 0, capApplied != 0
	return e, nil
}
