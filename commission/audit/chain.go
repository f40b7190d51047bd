package audit

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/reftrack/reftrack/schemas"
)

// Head is the end of one chain: what the next entry links to. Its zero
// value is the start of a chain.
type Head struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// Canonical is what an entry's hash covers: the entry encoded with its
// hash fields empty.
func Canonical(e schemas.JournalEntry) ([]byte, error) {
	e.PrevHash, e.Hash = "", ""
	b, err := schemas.Encode(e)
	if err != nil {
		return nil, fmt.Errorf("encode entry %s canonically: %w", e.EntryID, err)
	}
	return b, nil
}

// Hash is hex(SHA-256(prevHash || Canonical(e))).
func Hash(prevHash string, e schemas.JournalEntry) (string, error) {
	c, err := Canonical(e)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte(prevHash))
	h.Write(c)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Seal links e after head in chain, overwriting whatever chain fields it
// had, and returns the chain's new head.
func Seal(head Head, chain int32, e *schemas.JournalEntry) (Head, error) {
	e.Chain, e.ChainSeq, e.PrevHash, e.Hash = chain, head.Seq+1, head.Hash, ""
	h, err := Hash(head.Hash, *e)
	if err != nil {
		return head, err
	}
	e.Hash = h
	return Head{Seq: e.ChainSeq, Hash: h}, nil
}

// Break is the first broken link of a chain: the entry at which what is
// stored stops agreeing with the chain before it.
type Break struct {
	Chain    int32  `json:"chain"`
	Seq      int64  `json:"chain_seq"`
	EntryID  string `json:"entry_id"`
	Field    string `json:"field"` // chain_seq, prev_hash or hash
	Expected string `json:"expected"`
	Stored   string `json:"stored"`
}

func (b Break) String() string {
	return fmt.Sprintf("chain %d broken at entry %s (chain_seq %d): %s expected %s, stored %s",
		b.Chain, b.EntryID, b.Seq, b.Field, b.Expected, b.Stored)
}

// Chain is what Verify found of one chain.
type Chain struct {
	Chain   int32  `json:"chain"`
	Entries int    `json:"entries"`
	Head    Head   `json:"head"`            // the last entry's, when unbroken
	Break   *Break `json:"break,omitempty"` // the first broken link
}

// Verify recomputes every chain of entries (entries without a chain,
// ChainSeq 0, are not part of one and are skipped) and returns each
// chain, in chain order, with its first broken link if any.
func Verify(entries []schemas.JournalEntry) ([]Chain, error) {
	sorted := slices.Clone(entries)
	slices.SortStableFunc(sorted, func(a, b schemas.JournalEntry) int {
		return cmp.Or(cmp.Compare(a.Chain, b.Chain), cmp.Compare(a.ChainSeq, b.ChainSeq))
	})
	var out []Chain
	for _, e := range sorted {
		if e.ChainSeq == 0 {
			continue
		}
		if len(out) == 0 || out[len(out)-1].Chain != e.Chain {
			out = append(out, Chain{Chain: e.Chain})
		}
		c := &out[len(out)-1]
		c.Entries++
		if c.Break != nil {
			continue
		}
		b, err := link(c.Head, e)
		if err != nil {
			return nil, err
		}
		if b != nil {
			c.Break, c.Head = b, Head{}
			continue
		}
		c.Head = Head{Seq: e.ChainSeq, Hash: e.Hash}
	}
	return out, nil
}

// link checks that e follows head: the next sequence number (a gap is an
// entry removed, a repeat one forged), head's hash as its prev_hash, and a
// hash that its own stored fields reproduce.
func link(head Head, e schemas.JournalEntry) (*Break, error) {
	br := func(field, expected, stored string) *Break {
		return &Break{Chain: e.Chain, Seq: e.ChainSeq, EntryID: e.EntryID, Field: field, Expected: expected, Stored: stored}
	}
	if e.ChainSeq != head.Seq+1 {
		return br("chain_seq", strconv.FormatInt(head.Seq+1, 10), strconv.FormatInt(e.ChainSeq, 10)), nil
	}
	if e.PrevHash != head.Hash {
		return br("prev_hash", head.Hash, e.PrevHash), nil
	}
	h, err := Hash(e.PrevHash, e)
	if err != nil {
		return nil, err
	}
	if h != e.Hash {
		return br("hash", h, e.Hash), nil
	}
	return nil, nil
}

// ErrBroken is returned by Check when a chain has a broken link.
var ErrBroken = errors.New("journal hash chain broken")

// Check verifies entries and writes one line per chain to w: its length
// and head, or its first broken link. The error wraps ErrBroken when any
// chain is broken.
func Check(w io.Writer, entries []schemas.JournalEntry) error {
	chains, err := Verify(entries)
	if err != nil {
		return err
	}
	var broken []string
	for _, c := range chains {
		if c.Break != nil {
			fmt.Fprintln(w, c.Break)
			broken = append(broken, c.Break.EntryID)
			continue
		}
		fmt.Fprintf(w, "chain %d: %d entries, intact up to chain_seq %d, hash %s\n", c.Chain, c.Entries, c.Head.Seq, c.Head.Hash)
	}
	if len(broken) > 0 {
		return fmt.Errorf("%w at entries %s", ErrBroken, strings.Join(broken, ", "))
	}
	return nil
}
