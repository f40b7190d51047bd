package commission

import (
	"math/bits"
	"sort"
)

// Share is one payee's weight in basis points.
type Share struct {
	Payee    string // a stable key such as "agent:A-7"; also the tie-break
	WeightBP int
}

// Split divides total minor units by weights that must sum to 10 000: each payee
// gets floor(total×w/10 000), then the residue goes one unit each to the
// largest remainders, ties to the smaller payee key. The result sums to total
// exactly and does not depend on the order of shares. A negative total
// (clawback) is split as the mirror of its positive.
func Split(total int64, shares []Share) []int64 {
	if total < 0 {
		out := Split(-total, shares)
		for i := range out {
			out[i] = -out[i]
		}
		return out
	}
	if len(shares) == 0 {
		return nil
	}
	out := make([]int64, len(shares))
	rem := make([]int64, len(shares))
	var sum int64
	for i, s := range shares {
		out[i], rem[i] = floorShare(total, s.WeightBP)
		sum += out[i]
	}
	idx := make([]int, len(shares))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool {
		if rem[idx[a]] != rem[idx[b]] {
			return rem[idx[a]] > rem[idx[b]]
		}
		return shares[idx[a]].Payee < shares[idx[b]].Payee
	})
	for k := 0; sum < total; k = (k + 1) % len(idx) {
		out[idx[k]]++
		sum++
	}
	return out
}

// floorShare is floor(total × weightBP / 10 000) for total ≥ 0 and the
// remainder; what Split adds to it is the payee's rounding residue.
func floorShare(total int64, weightBP int) (q, r int64) {
	// 128-bit product: total×weight can exceed int64 for large premiums.
	hi, lo := bits.Mul64(uint64(total), uint64(weightBP))
	uq, ur := bits.Div64(hi, lo, 10_000)
	return int64(uq), int64(ur)
}
