// Package datadriven computes data-driven attribution over conversion paths:
// first-order Markov-chain removal effects (Anderl et al., "Mapping the
// customer journey: Lessons learned from graph-based online attribution
// modeling", IJRM 2016) and Shapley values over channel sets (Zhao et al.,
// "Shapley Value Methods for Attribution Modeling in Online Advertising",
// 2018; the characteristic function v(S) counts conversions of paths whose
// channels all lie in S). Pure functions, except Command (command.go),
// which reads paths from ClickHouse and writes the results back.
package datadriven

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Path is one lead's journey: its touchpoints' channels in time order and
// whether it converted.
type Path struct {
	Channels  []string
	Converted bool
}

// Credit is one channel's data-driven share.
type Credit struct {
	Channel       string
	RemovalEffect float64 // Markov only: 1 - P(conv without channel)/P(conv)
	Share         float64 // of all credit, summing to 1 over channels
	Conversions   float64 // Share × converted paths
}

// Channels lists the distinct channels of paths, sorted.
func Channels(paths []Path) []string {
	set := map[string]bool{}
	for _, p := range paths {
		for _, c := range p.Channels {
			set[c] = true
		}
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

func conversions(paths []Path) float64 {
	n := 0
	for _, p := range paths {
		if p.Converted && len(p.Channels) > 0 {
			n++
		}
	}
	return float64(n)
}

// Markov computes first-order removal effects. States are start, every
// channel, conversion and null; transition probabilities are the observed
// frequencies. Removing a channel sends every visit to it to null.
func Markov(paths []Path) ([]Credit, error) {
	chans := Channels(paths)
	if len(chans) == 0 {
		return nil, errors.New("no paths with touchpoints")
	}
	idx := map[string]int{}
	for i, c := range chans {
		idx[c] = i + 1 // 0 is start
	}
	n := len(chans) + 1
	conv, null := n, n+1
	counts := make([][]float64, n)
	for i := range counts {
		counts[i] = make([]float64, n+2)
	}
	for _, p := range paths {
		if len(p.Channels) == 0 {
			continue
		}
		from := 0
		for _, c := range p.Channels {
			counts[from][idx[c]]++
			from = idx[c]
		}
		if p.Converted {
			counts[from][conv]++
		} else {
			counts[from][null]++
		}
	}
	base, err := absorb(counts, -1)
	if err != nil {
		return nil, err
	}
	if base == 0 {
		return nil, errors.New("no conversions: removal effects are undefined")
	}
	out := make([]Credit, len(chans))
	var total float64
	for i, c := range chans {
		p, err := absorb(counts, i+1)
		if err != nil {
			return nil, err
		}
		out[i] = Credit{Channel: c, RemovalEffect: 1 - p/base}
		total += out[i].RemovalEffect
	}
	convs := conversions(paths)
	for i := range out {
		out[i].Share = out[i].RemovalEffect / total
		out[i].Conversions = out[i].Share * convs
	}
	return out, nil
}

// absorb returns the probability of reaching conversion from start, with
// state removed (≥ 1) made a dead end. It solves p = Q·p + r by Gaussian
// elimination with partial pivoting; the chain has at most a few dozen states.
func absorb(counts [][]float64, removed int) (float64, error) {
	n := len(counts)
	conv := n
	a := make([][]float64, n)
	for i := range a {
		a[i] = make([]float64, n+1)
		a[i][i] = 1
		if i == removed {
			continue // p(removed) = 0
		}
		var out float64
		for _, c := range counts[i] {
			out += c
		}
		if out == 0 {
			continue
		}
		for j := 0; j < n; j++ {
			a[i][j] -= counts[i][j] / out
		}
		a[i][n] = counts[i][conv] / out
	}
	for col := 0; col < n; col++ {
		piv := col
		for r := col + 1; r < n; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[piv][col]) {
				piv = r
			}
		}
		if math.Abs(a[piv][col]) < 1e-12 {
			return 0, fmt.Errorf("singular transition system at state %d", col)
		}
		a[col], a[piv] = a[piv], a[col]
		for r := 0; r < n; r++ {
			if r == col || a[r][col] == 0 {
				continue
			}
			f := a[r][col] / a[col][col]
			for k := col; k <= n; k++ {
				a[r][k] -= f * a[col][k]
			}
		}
	}
	return a[0][n] / a[0][0], nil
}

// MaxShapleyChannels bounds the exact computation (2^n coalitions).
const MaxShapleyChannels = 16

// Shapley computes exact Shapley values of each channel for the game whose
// value v(S) is the number of converted paths whose channel set is a subset
// of S. Values sum to the number of converted paths (efficiency).
func Shapley(paths []Path) ([]Credit, error) {
	chans := Channels(paths)
	n := len(chans)
	if n == 0 {
		return nil, errors.New("no paths with touchpoints")
	}
	if n > MaxShapleyChannels {
		return nil, fmt.Errorf("%d channels: exact Shapley is limited to %d", n, MaxShapleyChannels)
	}
	idx := map[string]uint{}
	for i, c := range chans {
		idx[c] = uint(i)
	}
	v := make([]float64, 1<<n)
	for _, p := range paths {
		if !p.Converted || len(p.Channels) == 0 {
			continue
		}
		var mask int
		for _, c := range p.Channels {
			mask |= 1 << idx[c]
		}
		v[mask]++
	}
	// Sum over subsets: v(S) = Σ_{T ⊆ S} conversions with channel set T.
	for b := 0; b < n; b++ {
		for s := range v {
			if s&(1<<b) != 0 {
				v[s] += v[s^(1<<b)]
			}
		}
	}
	fact := make([]float64, n+1)
	fact[0] = 1
	for i := 1; i <= n; i++ {
		fact[i] = fact[i-1] * float64(i)
	}
	out := make([]Credit, n)
	total := v[len(v)-1]
	for i, c := range chans {
		var phi float64
		bit := 1 << i
		for s := range v {
			if s&bit != 0 {
				continue
			}
			k := popcount(s)
			phi += fact[k] * fact[n-k-1] / fact[n] * (v[s|bit] - v[s])
		}
		out[i] = Credit{Channel: c, Conversions: phi}
		if total > 0 {
			out[i].Share = phi / total
		}
	}
	return out, nil
}

func popcount(x int) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}
