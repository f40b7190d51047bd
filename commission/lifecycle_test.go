package commission

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/reftrack/reftrack/commission/audit"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// decideMsg is decision request id on accrual entry of attribution att-1
// (lead acme/L-1), in the lead's partition as the decide command keys it.
func decideMsg(id, entry, decision, actor, reason string) worker.Message {
	payload, _ := json.Marshal(schemas.DecisionRequested{RequestID: id, EntryID: entry, AttributionID: "att-1",
		Decision: decision, Actor: actor, Reason: reason})
	env, _ := attEnvelope("life", "new_business", "1.00", "USD", 1)
	env.EventID, env.EventType, env.Payload = id, schemas.TypeDecisionRequested, payload
	b, _ := json.Marshal(env)
	return worker.Message{Partition: leadPartition, Key: schemas.LeadKey("acme", "L-1"), Value: b}
}

// accrualOf is the direct or override accrual of payee ("type:id") among es.
func accrualOf(t *testing.T, es []schemas.JournalEntry, payee string) schemas.JournalEntry {
	t.Helper()
	for _, e := range es {
		if e.Kind == schemas.EntryAccrual && e.PayeeType+":"+e.PayeeID == payee {
			return e
		}
	}
	t.Fatalf("no accrual of %s in %+v", payee, es)
	return schemas.JournalEntry{}
}

// TestAccrualHeldUntilFreeLookEnds (issue #13, lifecycle: no holding
// period): an accrual of a product line with hold_days (life: 30) carries
// hold_until, its policy's effective date plus the days, overrides
// included, and is held before that day and approved from it on; a line
// without hold_days is held for no day.
func TestAccrualHeldUntilFreeLookEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line, sale, premium string
		payee, holdUntil    string
	}{
		{"life", "new_business", "10000.00", "agent:A-1", "2026-01-31"},
		{"life", "new_business", "10000.00", "agency:AG-1", "2026-01-31"},
		{"auto", "new_business", "1000.00", "agent:A-1", "2026-01-01"},
	}
	for _, tt := range tests {
		t.Run(tt.line+" "+tt.payee, func(t *testing.T) {
			t.Parallel()
			s := newStage(t, rules(t))
			e := accrualOf(t, journalOf(t, s.batch(attMsg(tt.line, tt.sale, tt.premium, 1, lifePolicy...))), tt.payee)
			if e.HoldUntil != tt.holdUntil {
				t.Fatalf("hold_until %q, want %q", e.HoldUntil, tt.holdUntil)
			}
			for today, want := range map[string]string{"2025-12-31": StatusHeld, tt.holdUntil: StatusApproved, "2026-12-31": StatusApproved} {
				if got := Status(Facts{HoldUntil: e.HoldUntil}, today); got != want {
					t.Errorf("on %s: %s, want %s", today, got, want)
				}
			}
		})
	}
}

// TestStatusPrecedence: the state of an accrual, derived from what the
// journal and the payouts say (commission/README.md, Lifecycle).
func TestStatusPrecedence(t *testing.T) {
	t.Parallel()
	const today = "2026-02-01"
	tests := []struct {
		name  string
		facts Facts
		want  string
	}{
		{"before the lifecycle", Facts{}, StatusPending},
		{"in its hold", Facts{HoldUntil: "2026-02-02"}, StatusHeld},
		{"hold ends today", Facts{HoldUntil: today}, StatusApproved},
		{"approved in its hold", Facts{HoldUntil: "2026-03-01", Approved: true}, StatusApproved},
		{"approved before the lifecycle", Facts{Approved: true}, StatusApproved},
		{"paid", Facts{HoldUntil: "2026-01-01", Paid: true}, StatusPaid},
		{"declined beats approved", Facts{HoldUntil: "2026-01-01", Approved: true, Declined: true}, StatusDeclined},
		{"declined beats paid", Facts{Paid: true, Declined: true}, StatusDeclined},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Status(tt.facts, today); got != tt.want {
				t.Errorf("Status(%+v) = %s, want %s", tt.facts, got, tt.want)
			}
		})
	}
}

// TestDecision (issue #13, lifecycle: no approval or decline): a decline
// posts a decision (0, correcting the accrual, actor and reason) and a
// reversal of what stands of the accrual, so its payee's balance is 0; a
// resent request posts nothing; a later version or a cancellation never
// reverses or claws the declined accrual again. An approval posts only its
// decision. An incomplete request, or one on an accrual the stage does not
// hold, is refused.
func TestDecision(t *testing.T) {
	t.Parallel()
	s := newStage(t, rules(t))
	l := newLedger(t)
	accrued := journalOf(t, s.batch(attMsg("life", "new_business", "10000.00", 1, lifePolicy...)))
	l.add([]worker.Result{{Out: mustOutputs(t, accrued)}})
	agent, agency := accrualOf(t, accrued, "agent:A-1"), accrualOf(t, accrued, "agency:AG-1")

	decline := journalOf(t, s.batch(decideMsg("d-1", agent.EntryID, schemas.DecisionDecline, "ops@acme", "fraud")))
	l.add([]worker.Result{{Out: mustOutputs(t, decline)}})
	if got := describeEntries(decline[:2]); got != "decision agent:A-1 0 corrects="+agent.EntryID+" decline ops@acme fraud; reversal agent:A-1 -150000 corrects="+agent.EntryID+"  ops@acme fraud" {
		t.Errorf("decline posted %s", got)
	}
	if got := describeEntries(journalOf(t, s.batch(decideMsg("d-1", agent.EntryID, schemas.DecisionDecline, "ops@acme", "fraud")))); got != "" {
		t.Errorf("resent decline posted %s", got)
	}
	// The agency's override on the declined line was declined with it.
	if r := s.batch(decideMsg("d-2", agency.EntryID, schemas.DecisionApprove, "ops@acme", "checked")); !worker.IsPermanent(r[0].Err) {
		t.Errorf("approval of an override declined with its line: %v", r[0].Err)
	}
	l.add(s.batch(cancelMsg("c-1", "att-1", "2026-07-02")))
	if got := l.balances()["agent:A-1 USD"]; got != 0 {
		t.Errorf("declined agent's balance after a cancellation: %d, want 0", got)
	}
	l.add(s.batch(attMsg("life", "new_business", "10000.00", 2, lifePolicy...)))
	for _, p := range l.byID {
		if p.Corrects == agent.EntryID && p.Kind != schemas.EntryReversal && p.Kind != schemas.EntryDecision {
			t.Errorf("declined accrual corrected again: %+v", p)
		}
	}
	res := s.batch(decideMsg("d-3", agent.EntryID, "maybe", "ops", "x"), decideMsg("d-4", agent.EntryID, schemas.DecisionApprove, "", "x"),
		decideMsg("d-5", "no-such-entry", schemas.DecisionDecline, "ops", "x"))
	for i, r := range res {
		if !worker.IsPermanent(r.Err) || !strings.Contains(r.Err.Error(), CodeBadDecision) {
			t.Errorf("request %d: %v, want %s", i, r.Err, CodeBadDecision)
		}
	}
}

// TestHoldUntilReadBack (issue #13: a new field of the entry changes its
// hashed bytes): hold_until, holds and decisions written as the sink does are
// read back by audit, so every stored entry equals the one emitted and the
// chain verifies.
func TestHoldUntilReadBack(t *testing.T) {
	t.Parallel()
	s := newStage(t, holdRules(t)) // named holds too
	res := s.batch(attMsg("life", "new_business", "10000.00", 1, lifePolicy...))
	agent := accrualOf(t, journalOf(t, res), "agent:A-1")
	res = append(res, s.batch(decideMsg("d-1", agent.EntryID, schemas.DecisionDecline, "ops@acme", "fraud"))...)
	var outs []worker.Output
	for _, r := range res {
		outs = append(outs, r.Out...)
	}
	emitted := journalOf(t, res)
	stored, err := audit.Read(context.Background(), sinkDB(t, outs))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := describeEntries(stored)+fmt.Sprint(holds(stored)), describeEntries(emitted)+fmt.Sprint(holds(emitted)); got != want {
		t.Errorf("read back\n%s\nwant\n%s", got, want)
	}
	var report strings.Builder
	if err := audit.Check(&report, stored); err != nil {
		t.Errorf("verify: %v\n%s", err, report.String())
	}
}

func holds(es []schemas.JournalEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.HoldUntil
	}
	return out
}

// describeEntries renders entries in order as "kind payee amount
// corrects=… decision actor reason", joined by "; ".
func describeEntries(es []schemas.JournalEntry) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = fmt.Sprintf("%s %s:%s %d corrects=%s %s %s %s", e.Kind, e.PayeeType, e.PayeeID, e.AmountMinor, e.Corrects, e.Decision, e.Actor, e.Reason)
	}
	return strings.Join(parts, "; ")
}

// mustOutputs are entries as the records the stage wrote, for the ledger.
func mustOutputs(t *testing.T, es []schemas.JournalEntry) []worker.Output {
	t.Helper()
	env, _ := attEnvelope("life", "new_business", "1.00", "USD", 1)
	outs, err := outputs(env, es)
	if err != nil {
		t.Fatal(err)
	}
	return outs
}

// effectiveOn is attMsg of life policy 10 000.00 (lifePolicy) as attribution
// id of lead L-<id>, effective on day.
func effectiveOn(t *testing.T, id, day string) worker.Message {
	t.Helper()
	env, att := attEnvelope("life", "new_business", "10000.00", "USD", 1, lifePolicy...)
	att.Policy.EffectiveDate = day
	env.EventID, env.LeadID = id, "L-"+id
	env.Payload, _ = json.Marshal(att)
	b, _ := json.Marshal(env)
	return worker.Message{Partition: leadPartition, Key: schemas.LeadKey("acme", env.LeadID), Value: b}
}

// TestEntryStatusView (issue #13, lifecycle): commission_entry_status
// derives each entry's state when queried, from the rows the sink wrote:
// an accrual in its hold is held, one whose hold has passed approved, an
// approved one approved in its hold (the overrides on it with it), a
// declined one declined with its decision and reversal (the overrides on
// it too), one held by a hold rule held whatever its hold_until, with the
// hold's reason and rule; one whose statement was delivered paid (by the
// entries a delivery recorded; by period for a delivery recorded before
// entries were); an adjustment approved.
func TestEntryStatusView(t *testing.T) {
	t.Parallel()
	s := newStage(t, holdRules(t))
	res := s.batch(effectiveOn(t, "att-1", "2099-01-01"), effectiveOn(t, "att-2", "2026-01-01"),
		effectiveOn(t, "att-3", "2099-01-01"))
	att1, att3 := journalOf(t, res[:1]), journalOf(t, res[2:])
	res = append(res, s.batch(decideMsg("d-1", accrualOf(t, att1, "agent:A-1").EntryID, schemas.DecisionDecline, "ops@acme", "fraud"))...)
	approve := decideMsg("d-2", accrualOf(t, att3, "agent:A-1").EntryID, schemas.DecisionApprove, "ops@acme", "checked")
	approve.Value = bytes.ReplaceAll(approve.Value, []byte(`att-1`), []byte(`att-3`))
	approve.Value = bytes.ReplaceAll(approve.Value, []byte(`"L-1"`), []byte(`"L-att-3"`))
	res = append(res, s.batch(approve, adjMsg("acme", "r-1", "agent:A-9", "USD", 100, "ops@acme"))...)
	var outs []worker.Output
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		outs = append(outs, r.Out...)
	}
	conn := sinkDB(t, outs)
	ctx := context.Background()
	jan := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// The mga's statement of January was delivered before deliveries
	// recorded their entries; att-2's agent accrual in one that did.
	insertRows(t, conn, `INSERT INTO payout_deliveries (delivery_id, payee_type, payee_id, currency, period,
		statement_number, total_minor, entries, delivered_at)`, []any{"x", "mga", "M-1", "USD", jan, uint32(1), int64(0), uint32(0), jan},
		[]any{"y", "agent", "A-1", "USD", jan, uint32(1), int64(0), uint32(1), jan})
	insertRows(t, conn, `INSERT INTO payout_delivery_entries (delivery_id, entry_id, delivered_at)`,
		[]any{"y", accrualOf(t, journalOf(t, res[1:2]), "agent:A-1").EntryID, jan})
	rows, err := conn.Query(ctx, `SELECT kind, payee_type, payee_id, attribution_id, status, hold_reason, held_by FROM commission_entry_status
		INNER JOIN (SELECT entry_id, attribution_id FROM commission_entries FINAL) USING entry_id ORDER BY attribution_id, payee_type, payee_id, kind`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var kind, typ, id, att, status, reason, by string
		if err := rows.Scan(&kind, &typ, &id, &att, &status, &reason, &by); err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.TrimSpace(fmt.Sprintf("%s %s %s:%s %s %s %s", att, kind, typ, id, status, reason, by)))
	}
	hold := "fraud:banned_referrer rule:banned@" + holdRules(t).Version
	want := []string{
		"adjustment agent:A-9 approved",
		"att-1 accrual agency:AG-1 declined " + hold, "att-1 decision agency:AG-1 declined " + hold, "att-1 decision agency:AG-1 declined " + hold,
		"att-1 reversal agency:AG-1 declined " + hold,
		"att-1 accrual agent:A-1 declined " + hold, "att-1 decision agent:A-1 declined " + hold, "att-1 decision agent:A-1 declined " + hold,
		"att-1 reversal agent:A-1 declined " + hold,
		"att-1 accrual mga:M-1 declined " + hold, "att-1 decision mga:M-1 declined " + hold, "att-1 decision mga:M-1 declined " + hold,
		"att-1 reversal mga:M-1 declined " + hold,
		"att-2 accrual agency:AG-1 held " + hold, "att-2 decision agency:AG-1 held " + hold,
		"att-2 accrual agent:A-1 paid " + hold, "att-2 decision agent:A-1 held " + hold,
		"att-2 accrual mga:M-1 paid " + hold, "att-2 decision mga:M-1 paid " + hold,
		"att-3 accrual agency:AG-1 approved " + hold, "att-3 decision agency:AG-1 approved " + hold, "att-3 decision agency:AG-1 approved " + hold,
		"att-3 accrual agent:A-1 approved " + hold, "att-3 decision agent:A-1 approved " + hold, "att-3 decision agent:A-1 approved " + hold,
		"att-3 accrual mga:M-1 paid " + hold, "att-3 decision mga:M-1 paid " + hold, "att-3 decision mga:M-1 paid " + hold,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("states\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func insertRows(t *testing.T, conn driver.Conn, q string, rows ...[]any) {
	t.Helper()
	batch, err := conn.PrepareBatch(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := batch.Append(r...); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
}

// holdRules are testdata/rules.json with hold rules: a banned referrer
// list and a manual review of big life policies.
func holdRules(t *testing.T) *RuleSet {
	t.Helper()
	b, err := os.ReadFile("testdata/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte(`"hold_days"`), []byte(`"holds": [
    {"id": "banned", "reason": "fraud:banned_referrer", "when": "payee in [\"agent:A-1\", \"agent:X-9\"]"},
    {"id": "big-life", "reason": "manual", "when": "product_line == \"life\" && premium_minor > 500000"}],
  "hold_days"`), 1)
	rs, err := ParseRules(b)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestNamedHold (issue #13, lifecycle: holds for named reasons, fraud rules
// may add more): a hold rule of the rule set holds the accruals it matches
// for its reason, overrides on them included, whatever their hold_until,
// each with a hold decision naming the rule; an approval releases them, a
// decline declines them. The first matching rule holds; an accrual no rule
// matches is not held.
func TestNamedHold(t *testing.T) {
	t.Parallel()
	rs := holdRules(t)
	s := newStage(t, rs)
	accrued := journalOf(t, s.batch(attMsg("life", "new_business", "10000.00", 1, tp{"A-1", "agent", 5000}, tp{"A-2", "agent", 5000})))
	holds := map[string]string{}
	for _, e := range accrued {
		if e.Kind == schemas.EntryDecision {
			if e.Decision != DecisionHold || e.Corrects != accrualOf(t, accrued, e.PayeeType+":"+e.PayeeID).EntryID || e.AmountMinor != 0 {
				t.Errorf("hold entry %+v", e)
			}
			holds[e.PayeeType+":"+e.PayeeID] = e.Reason + " by " + e.Actor
		}
	}
	want := map[string]string{"agent:A-1": "fraud:banned_referrer by rule:banned@" + rs.Version, "agency:AG-1": "fraud:banned_referrer by rule:banned@" + rs.Version,
		"mga:M-1": "fraud:banned_referrer by rule:banned@" + rs.Version, "agent:A-2": "manual by rule:big-life@" + rs.Version}
	if fmt.Sprint(holds) != fmt.Sprint(want) {
		t.Errorf("holds %v\nwant  %v", holds, want)
	}
	if got := Status(Facts{HoldUntil: "2026-01-31", HeldFor: "manual"}, "2027-01-01"); got != StatusHeld {
		t.Errorf("named hold after hold_until: %s, want held", got)
	}
	if got := Status(Facts{HoldUntil: "2026-01-31", HeldFor: "manual", Approved: true}, "2026-01-02"); got != StatusApproved {
		t.Errorf("named hold released: %s, want approved", got)
	}
	none := journalOf(t, s.batch(effectiveOn(t, "att-9", "2026-01-01")))
	for _, e := range none {
		if e.Kind == schemas.EntryDecision && e.PayeeID != "A-1" && e.PayeeID != "AG-1" && e.PayeeID != "M-1" {
			t.Errorf("held without a matching rule: %+v", e)
		}
	}
}
