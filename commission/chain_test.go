package commission

import (
	"encoding/json"
	"testing"

	"github.com/reftrack/reftrack/commission/audit"
	"github.com/reftrack/reftrack/internal/worker"
	"github.com/reftrack/reftrack/schemas"
)

// journalOf decodes the journal entries of committed results.
func journalOf(t *testing.T, res []worker.Result) []schemas.JournalEntry {
	t.Helper()
	var out []schemas.JournalEntry
	for _, r := range res {
		for _, o := range r.Out {
			var env schemas.Envelope
			var e schemas.JournalEntry
			if err := json.Unmarshal(o.Value, &env); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(env.Payload, &e); err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
	}
	return out
}

func onPartition(p int32, m worker.Message) worker.Message {
	m.Partition = p
	return m
}

// TestJournalIsHashChained (issue #13, tamper evidence: entries carried no
// chain, so nothing showed a changed or removed one): every entry the stage
// commits is sealed into the hash chain of its input partition, in emission
// order, with no gap and no fork across aborted batches, Redis losses and
// restarts, since the chain's head is the stage's state.
func TestJournalIsHashChained(t *testing.T) {
	t.Parallel()
	s := newStage(t, rules(t))
	v1, v2 := attMsg("life", "new_business", "10000.00", 1, lifePolicy...), attMsg("life", "new_business", "10000.00", 2, lifePolicy...)
	steps := []struct {
		name string
		run  func() []worker.Result
	}{
		{"version 1", func() []worker.Result { return s.batch(v1) }},
		{"a cancellation aborted", func() []worker.Result { s.aborted(cancelMsg("c-1", "att-1", "2026-07-02")); return nil }},
		{"redis lost", func() []worker.Result { s.loseRedis(); return nil }},
		{"the cancellation redone", func() []worker.Result { return s.batch(cancelMsg("c-1", "att-1", "2026-07-02")) }},
		{"restart", func() []worker.Result { s.restart(); return nil }},
		{"version 2 beside another partition", func() []worker.Result { return s.batch(v2, onPartition(2, v1)) }},
		{"redis lost again", func() []worker.Result { s.loseRedis(); return nil }},
		{"a later cancellation", func() []worker.Result { return s.batch(cancelMsg("c-2", "att-1", "2026-10-01")) }},
	}
	var journal []schemas.JournalEntry
	perChain := map[int32]int{}
	for _, st := range steps {
		for _, e := range journalOf(t, st.run()) {
			journal = append(journal, e)
			perChain[e.Chain]++
		}
	}
	chains, err := audit.Verify(journal)
	if err != nil {
		t.Fatal(err)
	}
	if len(chains) != 2 {
		t.Fatalf("chains %+v, want one for partition %d and one for 2", chains, leadPartition)
	}
	for _, c := range chains {
		if c.Break != nil {
			t.Errorf("chain %d: %v", c.Chain, c.Break)
		}
		if c.Entries != perChain[c.Chain] || c.Head.Seq != int64(c.Entries) {
			t.Errorf("chain %d: %d entries up to seq %d, want %d", c.Chain, c.Entries, c.Head.Seq, perChain[c.Chain])
		}
	}
	if perChain[leadPartition] == 0 || perChain[2] == 0 {
		t.Errorf("entries per chain %v: want partitions %d and 2", perChain, leadPartition)
	}
}

// TestChainHeadSurvivesInState: the next entry links to the head the
// state holds, not to anything a process remembers.
func TestChainHeadSurvivesInState(t *testing.T) {
	t.Parallel()
	s := newStage(t, rules(t))
	first := journalOf(t, s.batch(attMsg("life", "new_business", "10000.00", 1, lifePolicy...)))
	s.loseRedis()
	s.restart()
	next := journalOf(t, s.batch(cancelMsg("c-1", "att-1", "2026-07-02")))
	if len(first) == 0 || len(next) == 0 {
		t.Fatalf("posted %d then %d entries", len(first), len(next))
	}
	last := first[len(first)-1]
	if next[0].PrevHash != last.Hash || next[0].ChainSeq != last.ChainSeq+1 || last.Hash == "" {
		t.Errorf("after a restart without Redis the chain goes on at seq %d after %q, want seq %d after %q",
			next[0].ChainSeq, next[0].PrevHash, last.ChainSeq+1, last.Hash)
	}
}
