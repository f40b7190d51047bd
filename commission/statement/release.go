package statement

import "time"

// Lifecycle words of the journal as statements read them (commission's
// schemas.Entry* kinds and decisions; this package imports no stage).
const (
	kindAccrual     = "accrual"
	decisionApprove = "approve"
	decisionDecline = "decline"
	decisionHold    = "hold"
)

// Payout selects from lines (every journal entry posted before to: the
// entries of earlier periods decide what is released now) the entries a
// statement of a period in [from, to) pays, each with Release set to that
// period, and those of [from, to) it holds back (released later, or not
// yet, or never).
//
// A period's statement pays what is released in it (see release): so a
// held accrual is paid in the statement of the period its hold ends in, a
// pending one once approved, a declined one never; and since an entry is
// released only in a period that was open when the entry or the decision
// releasing it was posted, a closed period's statement never changes.
func Payout(lines []Line, from, to time.Time) (pay, held []Line) {
	rel := release(lines)
	lo, hi := from.UTC().Format("2006-01"), to.UTC().Format("2006-01")
	for _, l := range lines {
		r, own := rel[l.LineID], monthOf(l.Period)
		switch {
		case r != "" && r >= lo && r < hi:
			l.Release = r
			pay = append(pay, l)
		case own >= lo && own < hi:
			held = append(held, l)
		}
	}
	return pay, held
}

// accrualFacts are what the journal says of one accrual's lifecycle.
type accrualFacts struct {
	period, holdUntil  string
	named              bool   // a hold rule held it: only an approval releases it
	approved, declined string // first period of an approve / decline decision
	hasAccrual         bool
}

// release is the period (YYYY-MM) whose statement pays each entry, "" for
// none (yet, or ever). An accrual is released in the first period it is
// approved in — the month of its hold_until (unless a named hold holds
// it), or the period of an approve decision — but not before its own
// period; pending (no hold_until, no approval) it is not released. An entry
// correcting it (reversal, clawback, reinstatement, decision) is released
// with it, or in its own period when posted later. An accrual declined in
// or before the period it would be released in is never paid, nor are its
// corrections (together they sum to zero); declined later, it was paid and
// its reversal is. Entries that correct no accrual of the journal (an
// adjustment, or a line written before the journal) are released in their
// own period.
func release(lines []Line) map[string]string {
	facts := map[string]*accrualFacts{}
	of := func(id string) *accrualFacts {
		if facts[id] == nil {
			facts[id] = &accrualFacts{}
		}
		return facts[id]
	}
	for _, l := range lines {
		p := monthOf(l.Period)
		switch {
		case l.Kind == kindAccrual:
			f := of(l.LineID)
			f.hasAccrual, f.period, f.holdUntil = true, p, l.HoldUntil
		case l.Decision == decisionHold:
			of(l.Corrects).named = true
		case l.Decision == decisionApprove:
			f := of(l.Corrects)
			f.approved = earliest(f.approved, p)
		case l.Decision == decisionDecline:
			f := of(l.Corrects)
			f.declined = earliest(f.declined, p)
		}
	}
	out := make(map[string]string, len(lines))
	for _, l := range lines {
		own := monthOf(l.Period)
		id := l.Corrects
		if l.Kind == kindAccrual {
			id = l.LineID
		}
		f := facts[id]
		if f == nil || !f.hasAccrual {
			out[l.LineID] = own
			continue
		}
		if r := f.released(); r != "" {
			out[l.LineID] = max(own, r)
		}
	}
	return out
}

// released is the period the accrual is paid in, "" for none.
func (f *accrualFacts) released() string {
	r := f.approved
	if f.holdUntil != "" && !f.named {
		r = earliest(r, monthOf(f.holdUntil))
	}
	if r == "" {
		return "" // pending, or held by name: waits for a decision
	}
	r = max(r, f.period)
	if f.declined != "" && f.declined <= r {
		return "" // declined before it was paid
	}
	return r
}

// earliest of two periods, "" meaning none.
func earliest(a, b string) string {
	if a == "" || b != "" && b < a {
		return b
	}
	return a
}
