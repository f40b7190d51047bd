package dedupe

import (
	"context"
	"fmt"

	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// CodeIllegalTransition rejects a status change the lead lifecycle forbids.
const CodeIllegalTransition = "illegal_transition"

var rank = map[string]int{
	schemas.StatusNew: 0, schemas.StatusContacted: 1, schemas.StatusQuoted: 2,
	schemas.StatusApplied: 3, schemas.StatusBound: 4,
}

// Transition says whether a lead may go from one status to another:
// forward along new → contacted → quoted → applied → bound (steps may be
// skipped), to lost from any open status, and to the same status again.
// Bound and lost are final. from == "" is a lead with no status yet.
func Transition(from, to string) bool {
	switch {
	case from == "" || from == to:
		return true
	case from == schemas.StatusBound || from == schemas.StatusLost:
		return false
	case to == schemas.StatusLost:
		return true
	}
	return rank[to] > rank[from]
}

// advance moves the lead whose status is kept at k to status to when the
// lifecycle allows it, and returns the status it was in. Only the current
// status is kept: the State gives an aborted batch's redo exactly the
// statuses its first attempt read, so no history is needed to decide alike.
func (d *Deduper) advance(ctx context.Context, st *worker.StateTxn, k worker.StateKey, to string) (from string, ok bool, err error) {
	cur, _, err := st.Get(ctx, k)
	if err != nil {
		return "", false, fmt.Errorf("read lead status %s: %w", k.Key, err)
	}
	from = string(cur)
	if !Transition(from, to) {
		return from, false, nil
	}
	// Re-put even when unchanged: a lead that keeps moving keeps its
	// status for another TTL.
	st.Put(k, []byte(to), d.TTL)
	return from, true, nil
}
