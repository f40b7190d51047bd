package attribute

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

var conv = time.Date(2026, 10, 15, 12, 0, 0, 0, time.UTC)

// touchesAt builds ordered touches at the given ages before the conversion.
func touchesAt(ages ...time.Duration) []Touch {
	ts := make([]Touch, len(ages))
	for i, a := range ages {
		ts[i] = Touch{EventID: fmt.Sprintf("e%02d", i), OccurredAt: conv.Add(-a)}
	}
	Order(ts)
	return ts
}

const day = 24 * time.Hour

// Hand-computed examples. The rule-based models follow the definitions of
// Google Analytics' (Universal) attribution model comparison: first and last
// interaction give all credit to one end; linear splits evenly; time decay
// halves a touch's credit per half-life (7 days by default) measured back
// from the conversion; position-based gives 40 % to the first and the last
// interaction and spreads 20 % over the middle ones.
func TestModelsHandComputed(t *testing.T) {
	t.Parallel()
	p := DefaultParams()
	tests := []struct {
		name  string
		ages  []time.Duration
		model string
		want  []int
	}{
		{"first of 3", []time.Duration{3 * day, 2 * day, day}, FirstTouch, []int{10000, 0, 0}},
		{"last of 3", []time.Duration{3 * day, 2 * day, day}, LastTouch, []int{0, 0, 10000}},
		{"single touch", []time.Duration{day}, PositionBased, []int{10000}},
		// 10000/3 = 3333.33 each; the leftover point goes to the latest touch.
		{"linear 3", []time.Duration{3 * day, 2 * day, day}, Linear, []int{3333, 3333, 3334}},
		{"linear 4", []time.Duration{4 * day, 3 * day, 2 * day, day}, Linear, []int{2500, 2500, 2500, 2500}},
		{"position 2", []time.Duration{2 * day, day}, PositionBased, []int{5000, 5000}},
		{"position 3", []time.Duration{3 * day, 2 * day, day}, PositionBased, []int{4000, 2000, 4000}},
		{"position 4", []time.Duration{4 * day, 3 * day, 2 * day, day}, PositionBased, []int{4000, 1000, 1000, 4000}},
		// 20 % over 3 middles = 666.67 each: floors leave 2 points, which go
		// to the two latest middles.
		{"position 5", []time.Duration{5 * day, 4 * day, 3 * day, 2 * day, day}, PositionBased, []int{4000, 666, 667, 667, 4000}},
		// Ages 14, 7 and 0 days: raw 1/4, 1/2, 1 of 7/4 = 1428.57, 2857.14,
		// 5714.29; the leftover point goes to the largest remainder (.57).
		{"time decay", []time.Duration{14 * day, 7 * day, 0}, TimeDecay, []int{1429, 2857, 5714}},
		{"time decay equal ages", []time.Duration{day, day}, TimeDecay, []int{5000, 5000}},
	}
	for _, tt := range tests {
		got := Weigh(touchesAt(tt.ages...), conv, p)[tt.model]
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: %s = %v, want %v", tt.name, tt.model, got, tt.want)
		}
	}
	asym := Params{HalfLife: day, First: 30, Middle: 20, Last: 50}
	if got := Weigh(touchesAt(2*day, day), conv, asym)[PositionBased]; fmt.Sprint(got) != "[4000 6000]" {
		t.Errorf("30/20/50 with two touches = %v, want [4000 6000] (middle split evenly)", got)
	}
	if got := Weigh(nil, conv, p); got[Linear] != nil || len(got) != len(ModelNames) {
		t.Errorf("no touches = %v", got)
	}
}

func TestApportion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  []uint64
		want []int
	}{
		{[]uint64{1, 1, 1}, []int{3333, 3333, 3334}},
		{[]uint64{0, 0}, []int{5000, 5000}},
		{[]uint64{1, 0, 0}, []int{10000, 0, 0}},
		{[]uint64{2, 1}, []int{6667, 3333}},
		{[]uint64{1 << 62, 1 << 62, 1}, []int{5000, 5000, 0}},
	}
	for _, tt := range tests {
		if got := Apportion(tt.raw); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("Apportion(%v) = %v, want %v", tt.raw, got, tt.want)
		}
	}
}

// TestModelsProperties: for random journeys every model sums to 10 000, is
// the same whatever order touches arrive in, linear is equal within 1 bp,
// and time decay never gives an older touch more than a newer one.
func TestModelsProperties(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	p := DefaultParams()
	for range 3000 {
		ts := make([]Touch, 1+r.IntN(12))
		for i := range ts {
			// Few distinct times, so ties on time are common.
			ts[i] = Touch{EventID: fmt.Sprintf("e%03d", r.IntN(1000)), OccurredAt: conv.Add(-time.Duration(r.IntN(6)) * 36 * time.Hour)}
		}
		shuffled := append([]Touch(nil), ts...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		Order(ts)
		Order(shuffled)
		a, b := Weigh(ts, conv, p), Weigh(shuffled, conv, p)
		for _, m := range ModelNames {
			sum := 0
			for i, w := range a[m] {
				sum += w
				if w != b[m][i] || w < 0 {
					t.Fatalf("%s: %v vs %v for the same touches", m, a[m], b[m])
				}
			}
			if sum != TotalBP {
				t.Fatalf("%s weights %v sum to %d", m, a[m], sum)
			}
		}
		lo, hi := TotalBP, 0
		for _, w := range a[Linear] {
			lo, hi = min(lo, w), max(hi, w)
		}
		if hi-lo > 1 {
			t.Fatalf("linear %v not equal within 1 bp", a[Linear])
		}
		for i := 1; i < len(ts); i++ {
			older, newer := a[TimeDecay][i-1], a[TimeDecay][i]
			if ts[i-1].OccurredAt.Before(ts[i].OccurredAt) && older > newer {
				t.Fatalf("time decay %v gives an older touch more", a[TimeDecay])
			}
		}
	}
}

func BenchmarkWeigh(b *testing.B) {
	ts := touchesAt(10*day, 8*day, 5*day, 2*day, day)
	p := DefaultParams()
	b.ReportAllocs()
	for b.Loop() {
		Weigh(ts, conv, p)
	}
}
