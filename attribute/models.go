package attribute

import (
	"fmt"
	"math"
	"math/bits"
	"sort"
	"time"

	"github.com/reftrack/reftrack/schemas"
)

// TotalBP is the whole credit of a conversion in basis points.
const TotalBP = 10_000

// Model names, as they appear in weights_bp maps and ClickHouse rows.
const (
	FirstTouch    = "first_touch"
	LastTouch     = "last_touch"
	Linear        = "linear"
	TimeDecay     = "time_decay"
	PositionBased = "position_based"
)

// ModelNames lists every rule-based model, in a fixed order.
var ModelNames = []string{FirstTouch, LastTouch, Linear, TimeDecay, PositionBased}

// Touch is a touchpoint as the models see it: schemas.Touch, the one type
// for it, which the attribution's touchpoints embed and the lead's state
// stores.
type Touch = schemas.Touch

// Order sorts touches by time, then event id, so every model sees one
// deterministic sequence whatever order Redis or Kafka returned them in.
func Order(ts []Touch) {
	sort.Slice(ts, func(i, j int) bool {
		if !ts[i].OccurredAt.Equal(ts[j].OccurredAt) {
			return ts[i].OccurredAt.Before(ts[j].OccurredAt)
		}
		return ts[i].EventID < ts[j].EventID
	})
}

// Params tune the models that have parameters.
type Params struct {
	HalfLife time.Duration // time decay: a touch this much older than another gets half its credit
	// Position-based shares in percent: first, middle (split evenly), last.
	// With one touch it gets everything; with two, first and last share the
	// middle's part equally (50/50 for the default 40/20/40).
	First, Middle, Last int
}

// DefaultParams are the usual defaults: 7-day half-life (Google Analytics'
// time-decay default) and 40/20/40 position-based.
func DefaultParams() Params {
	return Params{HalfLife: 7 * 24 * time.Hour, First: 40, Middle: 20, Last: 40}
}

// Validate checks the parameters.
func (p Params) Validate() error {
	if p.HalfLife <= 0 {
		return fmt.Errorf("half-life %s: must be positive", p.HalfLife)
	}
	if p.First < 0 || p.Middle < 0 || p.Last < 0 || p.First+p.Middle+p.Last != 100 {
		return fmt.Errorf("position shares %d/%d/%d: must be non-negative and sum to 100", p.First, p.Middle, p.Last)
	}
	return nil
}

// Weigh returns, for every model, basis-point weights of ordered touches
// (sorted with Order) converting at conv. Every model's weights sum to
// exactly TotalBP; with no touches every model is empty.
func Weigh(ordered []Touch, conv time.Time, p Params) map[string][]int {
	out := make(map[string][]int, len(ModelNames))
	n := len(ordered)
	if n == 0 {
		for _, m := range ModelNames {
			out[m] = nil
		}
		return out
	}
	raw := make([]uint64, n)
	fill := func(f func(i int) uint64) []int {
		for i := range raw {
			raw[i] = f(i)
		}
		return Apportion(raw)
	}
	out[FirstTouch] = fill(func(i int) uint64 { return b2u(i == 0) })
	out[LastTouch] = fill(func(i int) uint64 { return b2u(i == n-1) })
	out[Linear] = fill(func(int) uint64 { return 1 })
	out[TimeDecay] = fill(func(i int) uint64 {
		age := max(conv.Sub(ordered[i].OccurredAt), 0)
		// 2^-(age/halflife) scaled to 2^40; floats only shape weights, never
		// money, and Apportion makes the result exact and deterministic.
		w := math.Exp2(40 - float64(age)/float64(p.HalfLife))
		return max(uint64(w), 1)
	})
	out[PositionBased] = fill(func(i int) uint64 {
		switch {
		case n == 1:
			return 1
		case n == 2 && i == 0: // first and last split the middle share evenly
			return uint64(p.First*2 + p.Middle)
		case n == 2:
			return uint64(p.Last*2 + p.Middle)
		case i == 0:
			return uint64(p.First * (n - 2))
		case i == n-1:
			return uint64(p.Last * (n - 2))
		default:
			return uint64(p.Middle)
		}
	})
	return out
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// Apportion turns non-negative raw weights into basis points summing to
// exactly TotalBP by the largest-remainder method: each gets the floor of its
// exact share, and the leftover points go one each to the largest
// remainders. Ties go to the later position (the touch nearer the
// conversion), so the result depends only on the ordered input. All-zero raw
// weights are treated as equal.
func Apportion(raw []uint64) []int {
	n := len(raw)
	if n == 0 {
		return nil
	}
	var sum uint64
	for _, r := range raw {
		sum += r
	}
	if sum == 0 {
		ones := make([]uint64, n)
		for i := range ones {
			ones[i] = 1
		}
		return Apportion(ones)
	}
	out := make([]int, n)
	rem := make([]uint64, n)
	given := 0
	for i, r := range raw {
		hi, lo := bits.Mul64(r, TotalBP)
		q, m := bits.Div64(hi, lo, sum)
		out[i], rem[i] = int(q), m
		given += int(q)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool {
		if rem[idx[a]] != rem[idx[b]] {
			return rem[idx[a]] > rem[idx[b]]
		}
		return idx[a] > idx[b]
	})
	for k := 0; given < TotalBP; k++ {
		out[idx[k%n]]++
		given++
	}
	return out
}
