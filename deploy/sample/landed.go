package sample

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Landed is what ClickHouse holds, read with FINAL so that rows a replay
// wrote twice count once. Money is read from the commission journal
// (commission_entries): balances are sums of entries.
type Landed struct {
	ReferralEvents    int
	Rejected          int
	RejectedByStage   map[string]int
	RejectedByReason  map[string]int
	Attributions      int // distinct attribution ids
	AttributionRows   int
	CommissionLines   int // journal entries (the oracle's lines)
	CommissionTotal   map[string]int64
	CommissionByPayee map[string]int64
	// CommissionByLeadPayee has an entry for every payee with a line on a
	// partner's lead, keyed by LeadPayeeKey.
	CommissionByLeadPayee map[string]int64
	// PayoutByPayee sums each payee's entries as its payout statements
	// do (commission.PayoutOf): payout_amount_minor in payout_currency for
	// an entry with an fx_rate, else amount_minor in currency; keyed
	// "type:id currency".
	PayoutByPayee map[string]int64
	// CommissionByState sums the journal by lifecycle state (pending, held,
	// approved, paid, declined: commission_entry_status) and currency,
	// keyed "state currency". Reported, not compared with the oracle.
	CommissionByState map[string]int64
}

// ReadLanded queries the reftrack tables of conn's database.
func ReadLanded(ctx context.Context, conn driver.Conn) (*Landed, error) {
	l := &Landed{RejectedByStage: map[string]int{}, RejectedByReason: map[string]int{},
		CommissionTotal: map[string]int64{}, CommissionByPayee: map[string]int64{}, CommissionByLeadPayee: map[string]int64{},
		CommissionByState: map[string]int64{}, PayoutByPayee: map[string]int64{}}
	counts := []struct {
		q   string
		dst *int
	}{
		{"SELECT count() FROM referral_events FINAL", &l.ReferralEvents},
		{"SELECT count() FROM rejected_events FINAL", &l.Rejected},
		{"SELECT uniqExact(attribution_id) FROM attributions FINAL", &l.Attributions},
		{"SELECT count() FROM attributions FINAL", &l.AttributionRows},
		{"SELECT count() FROM commission_entries FINAL", &l.CommissionLines},
	}
	for _, c := range counts {
		var n uint64
		if err := conn.QueryRow(ctx, c.q).Scan(&n); err != nil {
			return nil, fmt.Errorf("%s: %w", c.q, err)
		}
		*c.dst = int(n)
	}
	if err := group(ctx, conn, "SELECT stage, toInt64(count()) FROM rejected_events FINAL GROUP BY stage", func(k string, v int64) { l.RejectedByStage[k] = int(v) }); err != nil {
		return nil, err
	}
	if err := group(ctx, conn, "SELECT concat(stage, '/', reason_codes[1]), toInt64(count()) FROM rejected_events FINAL GROUP BY stage, reason_codes[1]", func(k string, v int64) { l.RejectedByReason[k] = int(v) }); err != nil {
		return nil, err
	}
	if err := group(ctx, conn, "SELECT currency, toInt64(sum(amount_minor)) FROM commission_entries FINAL GROUP BY currency", func(k string, v int64) { l.CommissionTotal[k] = v }); err != nil {
		return nil, err
	}
	if err := group(ctx, conn, "SELECT concat(payee_type, ':', payee_id, ' ', currency), toInt64(sum(amount_minor)) FROM commission_entries FINAL GROUP BY payee_type, payee_id, currency", func(k string, v int64) { l.CommissionByPayee[k] = v }); err != nil {
		return nil, err
	}
	if err := group(ctx, conn, "SELECT concat(status, ' ', currency), toInt64(sum(amount_minor)) FROM commission_entry_status GROUP BY status, currency", func(k string, v int64) { l.CommissionByState[k] = v }); err != nil {
		return nil, err
	}
	const payout = `SELECT concat(payee_type, ':', payee_id, ' ', if(fx_rate != '', payout_currency, currency)),
		toInt64(sum(if(fx_rate != '', payout_amount_minor, amount_minor)))
		FROM commission_entries FINAL GROUP BY payee_type, payee_id, if(fx_rate != '', payout_currency, currency)`
	if err := group(ctx, conn, payout, func(k string, v int64) { l.PayoutByPayee[k] = v }); err != nil {
		return nil, err
	}
	if err := byLeadPayee(ctx, conn, l.CommissionByLeadPayee); err != nil {
		return nil, err
	}
	return l, nil
}

// byLeadPayee sums the entries of each payee on each partner's lead. The key
// is built here with LeadPayeeKey rather than in SQL, so that it is the
// oracle's spelling whatever the ids hold.
func byLeadPayee(ctx context.Context, conn driver.Conn, put map[string]int64) error {
	const q = `SELECT partner_id, lead_id, concat(payee_type, ':', payee_id), currency, toInt64(sum(amount_minor))
		FROM commission_entries FINAL GROUP BY partner_id, lead_id, payee_type, payee_id, currency`
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("sum commission per lead and payee: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var partner, lead, payee, currency string
		var v int64
		if err := rows.Scan(&partner, &lead, &payee, &currency, &v); err != nil {
			return fmt.Errorf("sum commission per lead and payee: %w", err)
		}
		put[LeadPayeeKey(partner, lead, payee, currency)] = v
	}
	return rows.Err()
}

func group(ctx context.Context, conn driver.Conn, q string, put func(string, int64)) error {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("%s: %w", q, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v int64
		if err := rows.Scan(&k, &v); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
		put(k, v)
	}
	return rows.Err()
}

// Diff lists every way the landed data differs from the oracle; empty means
// exact agreement.
func (w *Expected) Diff(l *Landed) []string {
	var d []string
	eq := func(name string, want, got int) {
		if want != got {
			d = append(d, fmt.Sprintf("%s: want %d, got %d", name, want, got))
		}
	}
	eq("referral_events", w.ReferralEvents, l.ReferralEvents)
	eq("rejected_events", w.Rejected, l.Rejected)
	eq("attributions", w.Policies, l.Attributions)
	eq("attribution rows", w.AttributionRows, l.AttributionRows)
	eq("commission_entries", w.CommissionLines, l.CommissionLines)
	for _, k := range keys(w.RejectedByStage, l.RejectedByStage) {
		eq("rejected by "+k, w.RejectedByStage[k], l.RejectedByStage[k])
	}
	for _, k := range keys(w.CommissionTotal, l.CommissionTotal) {
		if w.CommissionTotal[k] != l.CommissionTotal[k] {
			d = append(d, fmt.Sprintf("commission total %s: want %d, got %d", k, w.CommissionTotal[k], l.CommissionTotal[k]))
		}
	}
	for _, k := range keys(w.CommissionByPayee, l.CommissionByPayee) {
		if w.CommissionByPayee[k] != l.CommissionByPayee[k] {
			d = append(d, fmt.Sprintf("commission of %s: want %d, got %d", k, w.CommissionByPayee[k], l.CommissionByPayee[k]))
		}
	}
	d = append(d, w.payoutDiff(l)...)
	return append(d, w.leadPayeeDiff(l)...)
}

// PayoutTotal is what payout statements total per currency paid: each
// payee's entries in its payout currency (PayoutByPayee summed by
// currency). Without payees paid in another currency it is
// CommissionTotal.
func (w *Expected) PayoutTotal() map[string]int64 {
	out := map[string]int64{}
	for k, v := range w.PayoutByPayee {
		out[k[strings.LastIndexByte(k, ' ')+1:]] += v
	}
	return out
}

// payoutDiff compares each payee's payout, in its payout currency; a key
// missing on one side is 0 there (zero lines make keys too). An oracle
// without payouts (nil) is not compared.
func (w *Expected) payoutDiff(l *Landed) []string {
	if w.PayoutByPayee == nil {
		return nil
	}
	var d []string
	for _, k := range keys(w.PayoutByPayee, l.PayoutByPayee) {
		if w.PayoutByPayee[k] != l.PayoutByPayee[k] {
			d = append(d, fmt.Sprintf("payout of %s: want %d, got %d", k, w.PayoutByPayee[k], l.PayoutByPayee[k]))
		}
	}
	return d
}

// leadPayeeDiff compares money per payee per partner's lead. A line for a
// payee that never referred that partner's lead — most likely another
// partner's referrer of a lead with the same id — is reported even when it
// is for 0: being on the wrong lead at all is the fault.
func (w *Expected) leadPayeeDiff(l *Landed) []string {
	var d []string
	for _, k := range keys(w.CommissionByLeadPayee, l.CommissionByLeadPayee) {
		want, wok := w.CommissionByLeadPayee[k]
		got, gok := l.CommissionByLeadPayee[k]
		switch {
		case !wok:
			d = append(d, fmt.Sprintf("commission on %s: a payee that never referred this partner's lead got lines summing to %d", k, got))
		case !gok:
			d = append(d, fmt.Sprintf("commission on %s: want %d, got no line", k, want))
		case want != got:
			d = append(d, fmt.Sprintf("commission on %s: want %d, got %d", k, want, got))
		}
	}
	return d
}

// Strangers lists the commission lines that landed for a payee on a
// partner's lead the payee never referred, as Diff words them: the money of
// one tenant paid to another's referrers. Empty is what isolation means.
func (w *Expected) Strangers(l *Landed) []string {
	var d []string
	for _, k := range keys(l.CommissionByLeadPayee, nil) {
		if _, ok := w.CommissionByLeadPayee[k]; !ok {
			d = append(d, fmt.Sprintf("%s: %d", k, l.CommissionByLeadPayee[k]))
		}
	}
	return d
}

func keys[V comparable](a, b map[string]V) []string {
	set := map[string]bool{}
	for k := range a {
		set[k] = true
	}
	for k := range b {
		set[k] = true
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Print writes a human summary of what landed.
func (l *Landed) Print(w io.Writer) {
	fmt.Fprintf(w, "rows landed in ClickHouse\n")
	fmt.Fprintf(w, "  %-18s %8d\n  %-18s %8d\n  %-18s %8d (%d rows)\n  %-18s %8d\n",
		"referral_events", l.ReferralEvents, "rejected_events", l.Rejected,
		"attributions", l.Attributions, l.AttributionRows, "commission_entries", l.CommissionLines)
	fmt.Fprintf(w, "rejects by stage/reason\n")
	for _, k := range keys(l.RejectedByReason, nil) {
		fmt.Fprintf(w, "  %-40s %6d\n", k, l.RejectedByReason[k])
	}
	fmt.Fprintf(w, "commission total by currency (minor units)\n")
	for _, k := range keys(l.CommissionTotal, nil) {
		fmt.Fprintf(w, "  %-5s %14d\n", k, l.CommissionTotal[k])
	}
	fmt.Fprintf(w, "commission by lifecycle state (minor units)\n")
	for _, k := range keys(l.CommissionByState, nil) {
		fmt.Fprintf(w, "  %-14s %14d\n", k, l.CommissionByState[k])
	}
	type payee struct {
		k string
		v int64
	}
	var ps []payee
	for k, v := range l.CommissionByPayee {
		ps = append(ps, payee{k, v})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].v > ps[j].v || (ps[i].v == ps[j].v && ps[i].k < ps[j].k) })
	fmt.Fprintf(w, "commission per payee, top 15 of %d (minor units)\n", len(ps))
	for _, p := range ps[:min(15, len(ps))] {
		fmt.Fprintf(w, "  %-24s %12d\n", strings.TrimSpace(p.k), p.v)
	}
}

// Plus returns the expectation for a database that already held before:
// the demo can run twice against one stack.
func (w Expected) Plus(before *Landed) *Expected {
	out := w
	out.ReferralEvents += before.ReferralEvents
	out.Rejected += before.Rejected
	out.Policies += before.Attributions
	out.AttributionRows += before.AttributionRows
	out.CommissionLines += before.CommissionLines
	out.RejectedByStage = sum(w.RejectedByStage, before.RejectedByStage)
	out.CommissionTotal = sum(w.CommissionTotal, before.CommissionTotal)
	out.CommissionByPayee = sum(w.CommissionByPayee, before.CommissionByPayee)
	out.CommissionByLeadPayee = sum(w.CommissionByLeadPayee, before.CommissionByLeadPayee)
	if w.PayoutByPayee != nil {
		out.PayoutByPayee = sum(w.PayoutByPayee, before.PayoutByPayee)
	}
	return &out
}

func sum[V int | int64](a, b map[string]V) map[string]V {
	out := map[string]V{}
	for k, v := range a {
		out[k] += v
	}
	for k, v := range b {
		out[k] += v
	}
	return out
}
