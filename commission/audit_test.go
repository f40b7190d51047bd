package commission

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/reftrack/reftrack/commission/audit"
	"github.com/reftrack/reftrack/internal/testenv"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// datedCancel is cancelMsg with the occurred_at every real record has: the
// period ClickHouse stores (a Date, from 1970) must be the one emitted.
func datedCancel(id, att, on string) worker.Message {
	m := cancelMsg(id, att, on)
	var env schemas.Envelope
	_ = json.Unmarshal(m.Value, &env)
	env.OccurredAt, _ = time.Parse(time.DateOnly, on)
	m.Value, _ = json.Marshal(env)
	return m
}

// stagedJournal runs a policy through the stage: version 1, a cancellation,
// version 2, a later cancellation, and returns the records committed to
// commissions in order with their entries.
func stagedJournal(t *testing.T) ([]worker.Output, []schemas.JournalEntry) {
	t.Helper()
	s := newStage(t, rules(t))
	var outs []worker.Output
	for _, m := range []worker.Message{attMsg("life", "new_business", "10000.00", 1, lifePolicy...),
		datedCancel("c-1", "att-1", "2026-07-02"), attMsg("life", "new_business", "10000.00", 2, tp{"A-1", "agent", 5000}, tp{"A-2", "agent", 5000}),
		datedCancel("c-2", "att-1", "2026-10-01")} {
		for _, r := range s.batch(m) {
			outs = append(outs, r.Out...)
		}
	}
	return outs, journalOf(t, []worker.Result{{Out: outs}})
}

// sinkDB is a fresh database on the dev stack's ClickHouse, migrated by
// schemas' migrations, holding outs as the sink stores them from partition
// 0 of commissions (one commission_entries row per entry).
func sinkDB(t *testing.T, outs []worker.Output) driver.Conn {
	t.Helper()
	conn, _ := testenv.ClickHouse(t, "commission_audit", true)
	writeThroughSink(t, conn, 0, outs)
	return conn
}

// entryColumns are the columns of commission_entries a journal entry
// fills, in entryRow's order: the sink's own list.
var entryColumns = strings.Join(schemas.CommissionEntryColumns(), ", ")

// filledByClickHouse are commission_entries' columns no writer gives.
var filledByClickHouse = map[string]bool{"inserted_at": true} // DEFAULT now()

// TestEntryColumnsAreTheMigrations: the one column list (the sink's, this
// file's) names only columns the migrations give commission_entries, and
// every one of them but those ClickHouse fills at insert: a migration
// adding a column (each has a DEFAULT, so inserts without it still work)
// fails here until the list has it and the sink writes it.
func TestEntryColumnsAreTheMigrations(t *testing.T) {
	t.Parallel()
	conn, db := testenv.ClickHouse(t, "commission_columns", true)
	rows, err := conn.Query(context.Background(),
		"SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'commission_entries'")
	if err != nil {
		t.Fatalf("columns of %s: %v", db, err)
	}
	defer rows.Close()
	inTable := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		inTable[name] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, c := range schemas.CommissionEntryColumns() {
		if listed[c] {
			t.Errorf("column %s listed twice", c)
		}
		listed[c] = true
		if !inTable[c] {
			t.Errorf("column %s listed but not in the migrated table", c)
		}
	}
	for c := range inTable {
		if !listed[c] && !filledByClickHouse[c] {
			t.Errorf("the migrated table has %s, which schemas.CommissionEntryColumns lacks", c)
		}
	}
}

// writeThroughSink writes outs as rows of commission_entries, as the sink
// stores the records of commissions from offset first on. Written here
// from the schema, not through the sink module: a stage imports no other
// stage, tests included.
func writeThroughSink(t *testing.T, conn driver.Conn, first int64, outs []worker.Output) {
	t.Helper()
	batch, err := conn.PrepareBatch(context.Background(), "INSERT INTO commission_entries ("+entryColumns+")")
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range outs {
		if err := batch.Append(entryRow(t, o, first+int64(i))...); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
}

// entryRow is one record of commissions as its commission_entries row.
func entryRow(t *testing.T, o worker.Output, offset int64) []any {
	t.Helper()
	var env schemas.Envelope
	var e schemas.JournalEntry
	if err := schemas.Decode(o.Value, &env); err != nil {
		t.Fatal(err)
	}
	if err := schemas.Decode(env.Payload, &e); err != nil {
		t.Fatal(err)
	}
	period, err := time.Parse("2006-01", e.Period)
	if err != nil {
		t.Fatal(err)
	}
	posted := env.OccurredAt
	if env.ReceivedAt != nil {
		posted = *env.ReceivedAt
	}
	return []any{e.EntryID, e.Kind, e.PayeeID, e.PayeeType, e.Currency, e.AmountMinor, period, posted.UTC(), e.Corrects, e.CauseID,
		e.AttributionID, e.AttributionVersion, e.PolicyID, e.PartnerID, e.LeadID, e.ProductLine, e.SaleType, e.Model, uint16(e.WeightBP),
		e.RuleSetVersion, e.RuleID, e.PremiumMinor, e.BaseMinor, e.Rate, e.Band, boolU8(e.MinApplied), boolU8(e.CapApplied), e.ResidueMinor,
		uint8(e.OverrideLevel), e.SourceEntryID, e.CancelledOn, e.Actor, e.Reason, e.Chain, e.ChainSeq, e.PrevHash, e.Hash, e.HoldUntil,
		e.Decision, e.LicenceCheck, e.PayoutCurrency, e.PayoutAmountMinor, e.FXRate, e.FXSource, e.FXAsOf, e.ModelVersion,
		"p." + schemas.TopicCommissions, int32(0), offset}
}

func boolU8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// awaitMutations waits until ClickHouse has applied the database's ALTER
// … UPDATE/DELETE mutations: 18.16 runs them in the background and has no
// mutations_sync setting.
func awaitMutations(t *testing.T, conn driver.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		var pending uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND is_done = 0").Scan(&pending); err != nil {
			t.Fatalf("mutations not applied: %v", err)
		}
		if pending == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d mutations still pending", pending)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestVerifyCatchesTamperedRows (issue #13, tamper evidence: a row of
// commission_entries could be changed, forged or removed and nothing
// noticed): the journal the stage emits, written through the sink into a
// real ClickHouse, verifies from the stored rows alone; after each kind of
// tampering ClickHouse 18.16 allows, verify names the entry where the chain
// breaks.
func TestVerifyCatchesTamperedRows(t *testing.T) {
	t.Parallel()
	outs, journal := stagedJournal(t)
	if len(journal) < 6 {
		t.Fatalf("journal of %d entries, want a longer one", len(journal))
	}
	victim, after := journal[3], journal[4]
	tests := []struct {
		name   string
		tamper func(t *testing.T, conn driver.Conn)
		broken string // entry id named, field
	}{
		{"amount updated in place (ALTER TABLE … UPDATE)", func(t *testing.T, conn driver.Conn) {
			if err := conn.Exec(context.Background(), "ALTER TABLE commission_entries UPDATE amount_minor = amount_minor + 100 WHERE entry_id = ?", victim.EntryID); err != nil {
				t.Fatal(err)
			}
			awaitMutations(t, conn)
		}, victim.EntryID + " hash"},
		{"forged row under the same id (FINAL keeps the last insert)", func(t *testing.T, conn driver.Conn) {
			forged := outs[3]
			forged.Value = bytes.Replace(forged.Value, []byte(`"cause_id"`), []byte(`"reason":"forged","cause_id"`), 1)
			writeThroughSink(t, conn, int64(len(outs)), []worker.Output{forged})
		}, victim.EntryID + " hash"},
		{"row deleted (ALTER TABLE … DELETE)", func(t *testing.T, conn driver.Conn) {
			if err := conn.Exec(context.Background(), "ALTER TABLE commission_entries DELETE WHERE entry_id = ?", victim.EntryID); err != nil {
				t.Fatal(err)
			}
			awaitMutations(t, conn)
		}, after.EntryID + " chain_seq"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn := sinkDB(t, outs)
			ctx := context.Background()
			stored, err := audit.Read(ctx, conn)
			if err != nil {
				t.Fatal(err)
			}
			var report strings.Builder
			if err := audit.Check(&report, stored); err != nil || len(stored) != len(journal) {
				t.Fatalf("untouched: %d of %d entries read, %v\n%s", len(stored), len(journal), err, report.String())
			}
			tt.tamper(t, conn)
			if stored, err = audit.Read(ctx, conn); err != nil {
				t.Fatal(err)
			}
			report.Reset()
			err = audit.Check(&report, stored)
			if !errors.Is(err, audit.ErrBroken) {
				t.Fatalf("tampered journal verified: %v\n%s", err, report.String())
			}
			chains, _ := audit.Verify(stored)
			if len(chains) != 1 || chains[0].Break == nil {
				t.Fatalf("chains %+v", chains)
			}
			if b := chains[0].Break; b.EntryID+" "+b.Field != tt.broken {
				t.Errorf("first broken link %s %s, want %s\n%s", b.EntryID, b.Field, tt.broken, report.String())
			}
			if !strings.Contains(report.String(), strings.Fields(tt.broken)[0]) {
				t.Errorf("report does not name the entry:\n%s", report.String())
			}
		})
	}
}

// TestExplain: the derivation of a clawback of an override, read back from
// ClickHouse, goes down to the direct accrual with its credit, rule, cap and
// residue, in both outputs.
func TestExplain(t *testing.T) {
	t.Parallel()
	outs, journal := stagedJournal(t)
	conn := sinkDB(t, outs)
	var clawback schemas.JournalEntry
	for _, e := range journal {
		if e.Kind == schemas.EntryClawback && e.OverrideLevel == 1 {
			clawback = e
			break
		}
	}
	if clawback.EntryID == "" {
		t.Fatal("no clawback of an override in the journal")
	}
	ctx := context.Background()
	x, err := audit.Explain(clawback.EntryID, func(id string) (schemas.JournalEntry, error) { return audit.ReadEntry(ctx, conn, id) })
	if err != nil {
		t.Fatal(err)
	}
	var table, js bytes.Buffer
	if err := x.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if err := x.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"clawback to agency:AG-1", "cancellation c-1 on 2026-07-02", "level 1 upline", "override:1 of rule set",
		"model linear", "10000 bp (100.00 %)", "10000.00 USD", "rounding residue +0", "life-first-year of rule set", "30 % of the base",
		"cap  ", "1500.00 USD", "hash " + clawback.Hash} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	var back audit.Explanation
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	direct := back.Corrects.ShareOf
	if back.Entry.EntryID != clawback.EntryID || back.Corrects == nil || direct == nil || direct.Entry.RuleID != "life-first-year" ||
		!direct.Entry.CapApplied || direct.Entry.AmountMinor != 150000 {
		t.Errorf("json explanation: %s", js.String())
	}
	if _, err := audit.ReadEntry(ctx, conn, "no-such-entry"); !errors.Is(err, audit.ErrNoEntry) {
		t.Errorf("unknown entry: %v", err)
	}
}
