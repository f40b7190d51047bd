package commission

import (
	"context"
	"fmt"

	"github.com/reftrack/reftrack/commission/audit"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// chainKey holds the head of the hash chain of the entries caused by input
// partition p's records. The chain follows the stage's input partition, not
// the commissions partition an entry lands on: the two agree only when the
// topics have as many partitions, while the input partition's state is
// exactly what a replay, an abort or a restore from the changelog brings
// back, so the chain is the same however often a batch runs.
func chainKey(p int32) worker.StateKey { return worker.StateKey{Partition: p, Key: "chain"} }

// seal links entries, in order, after the head of partition p's chain and
// records the new head. The head never expires: a chain outlives every
// policy in it.
func seal(ctx context.Context, st *worker.StateTxn, p int32, entries []schemas.JournalEntry) error {
	if len(entries) == 0 {
		return nil
	}
	head, err := chainHead(ctx, st, p)
	if err != nil {
		return err
	}
	for i := range entries {
		if head, err = audit.Seal(head, p, &entries[i]); err != nil {
			return fmt.Errorf("seal entry %s into chain %d: %w", entries[i].EntryID, p, err)
		}
	}
	b, err := schemas.Encode(head)
	if err != nil {
		return fmt.Errorf("encode head of chain %d: %w", p, err)
	}
	st.Put(chainKey(p), b, 0)
	return nil
}

func chainHead(ctx context.Context, st *worker.StateTxn, p int32) (audit.Head, error) {
	var head audit.Head
	b, ok, err := st.Get(ctx, chainKey(p))
	if err != nil || !ok {
		return head, err
	}
	if err := schemas.Decode(b, &head); err != nil {
		return head, fmt.Errorf("decode head of chain %d: %w", p, err)
	}
	return head, nil
}
