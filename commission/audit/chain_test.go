package audit

import (
	"fmt"
	"slices"
	"testing"

	"github.com/reftrack/reftrack/schemas"
)

// sealed is a chain of n accruals of 100, 200, … minor units in chain p.
func sealed(t testing.TB, p int32, n int) []schemas.JournalEntry {
	t.Helper()
	var head Head
	out := make([]schemas.JournalEntry, n)
	for i := range out {
		out[i] = schemas.JournalEntry{EntryID: fmt.Sprintf("e%d-%d", p, i+1), Kind: schemas.EntryAccrual, PayeeID: "A-1",
			PayeeType: "agent", Currency: "USD", AmountMinor: int64(100 * (i + 1)), Period: "2026-10", PartnerID: "acme", LeadID: "L-1"}
		var err error
		if head, err = Seal(head, p, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestVerify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper func([]schemas.JournalEntry) []schemas.JournalEntry
		want   string // the first break, "" for none
	}{
		{"untouched", func(es []schemas.JournalEntry) []schemas.JournalEntry { return es }, ""},
		{"read in any order", func(es []schemas.JournalEntry) []schemas.JournalEntry { slices.Reverse(es); return es }, ""},
		{"amount changed", func(es []schemas.JournalEntry) []schemas.JournalEntry { es[2].AmountMinor = 99999; return es }, "e1-3 hash"},
		{"payee changed", func(es []schemas.JournalEntry) []schemas.JournalEntry { es[1].PayeeID = "A-9"; return es }, "e1-2 hash"},
		{"last entry changed", func(es []schemas.JournalEntry) []schemas.JournalEntry { es[4].Reason = "x"; return es }, "e1-5 hash"},
		{"entry removed", func(es []schemas.JournalEntry) []schemas.JournalEntry { return slices.Delete(es, 1, 2) }, "e1-3 chain_seq"},
		{"entry rehashed after a change", func(es []schemas.JournalEntry) []schemas.JournalEntry {
			es[1].AmountMinor = 1
			es[1].Hash, _ = Hash(es[1].PrevHash, es[1])
			return es
		}, "e1-3 prev_hash"},
		{"entry forged beside one", func(es []schemas.JournalEntry) []schemas.JournalEntry {
			f := es[1]
			f.EntryID = "forged"
			return slices.Insert(es, 2, f)
		}, "forged chain_seq"},
		{"entries swapped", func(es []schemas.JournalEntry) []schemas.JournalEntry {
			es[1].ChainSeq, es[2].ChainSeq = es[2].ChainSeq, es[1].ChainSeq
			return es
		}, "e1-3 prev_hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			other := sealed(t, 2, 3)
			chains, err := Verify(append(tt.tamper(sealed(t, 1, 5)), other...))
			if err != nil {
				t.Fatal(err)
			}
			if len(chains) != 2 || chains[0].Chain != 1 || chains[1].Chain != 2 {
				t.Fatalf("chains %+v, want 1 and 2", chains)
			}
			got := ""
			if b := chains[0].Break; b != nil {
				got = b.EntryID + " " + b.Field
			}
			if got != tt.want {
				t.Errorf("first break %q, want %q", got, tt.want)
			}
			if chains[1].Break != nil || chains[1].Head != (Head{Seq: 3, Hash: other[2].Hash}) {
				t.Errorf("untouched chain 2: %+v", chains[1])
			}
		})
	}
}

// TestHashIsOfTheCanonicalForm: the hash covers every field but the hash
// fields, chain position included, and the link before it.
func TestHashIsOfTheCanonicalForm(t *testing.T) {
	t.Parallel()
	e := sealed(t, 1, 1)[0]
	again, err := Hash("", e)
	if err != nil || again != e.Hash {
		t.Fatalf("rehash %q (%v), sealed %q", again, err, e.Hash)
	}
	for name, change := range map[string]func(*schemas.JournalEntry){
		"prev hash": func(e *schemas.JournalEntry) { e.PrevHash = "x" },
		"chain":     func(e *schemas.JournalEntry) { e.Chain = 7 },
		"chain seq": func(e *schemas.JournalEntry) { e.ChainSeq = 2 },
		"period":    func(e *schemas.JournalEntry) { e.Period = "2026-11" },
	} {
		c := e
		change(&c)
		if h, _ := Hash(c.PrevHash, c); h == e.Hash {
			t.Errorf("%s changed, hash the same", name)
		}
	}
}
