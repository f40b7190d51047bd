package datadriven

import (
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// Hand-computed: paths A→B→conv, A→null, B→null.
// P(S→A)=2/3, P(S→B)=1/3, P(A→B)=P(A→null)=1/2, P(B→conv)=P(B→null)=1/2.
// p(B)=1/2, p(A)=1/4, P(conv)=2/3·1/4+1/3·1/2=1/3 (one path in three).
// Without A: 1/3·1/2=1/6, removal effect 1-(1/6)/(1/3)=1/2. Without B: 0,
// effect 1. Shares 1/3 and 2/3. Shapley: v({A,B})=1, every smaller
// coalition 0, so each gets 1/2.
func TestHandComputed(t *testing.T) {
	t.Parallel()
	paths := []Path{{[]string{"A", "B"}, true}, {[]string{"A"}, false}, {[]string{"B"}, false}}
	m, err := Markov(paths)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]float64{"A": {0.5, 1.0 / 3}, "B": {1, 2.0 / 3}}
	for _, c := range m {
		if w := want[c.Channel]; !near(c.RemovalEffect, w[0]) || !near(c.Share, w[1]) || !near(c.Conversions, w[1]) {
			t.Errorf("Markov %s = %+v, want effect %v share %v", c.Channel, c, w[0], w[1])
		}
	}
	s, err := Shapley(paths)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range s {
		if !near(c.Conversions, 0.5) || !near(c.Share, 0.5) {
			t.Errorf("Shapley %s = %+v, want 0.5", c.Channel, c)
		}
	}
}

// Hand-computed Shapley with unequal stand-alone values: converted paths
// {A} twice and {A,B} once. v(A)=2, v(B)=0, v(AB)=3.
// φA = ½(2-0) + ½(3-0) = 2.5, φB = ½(0-0) + ½(3-2) = 0.5.
func TestShapleyUnequal(t *testing.T) {
	t.Parallel()
	s, err := Shapley([]Path{{[]string{"A"}, true}, {[]string{"A"}, true}, {[]string{"B", "A"}, true}, {[]string{"B"}, false}})
	if err != nil {
		t.Fatal(err)
	}
	if !near(s[0].Conversions, 2.5) || !near(s[1].Conversions, 0.5) {
		t.Errorf("Shapley = %+v, want A 2.5, B 0.5", s)
	}
}

// Properties on random journeys: Markov shares and Shapley values are
// efficient (sum to 1 and to the conversions) and non-negative.
func TestProperties(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	chans := []string{"crm", "email", "web", "phone", "partner"}
	for range 200 {
		var paths []Path
		for range 1 + r.IntN(40) {
			p := Path{Converted: r.IntN(3) == 0}
			for range 1 + r.IntN(4) {
				p.Channels = append(p.Channels, chans[r.IntN(len(chans))])
			}
			paths = append(paths, p)
		}
		convs := conversions(paths)
		if convs == 0 {
			if _, err := Markov(paths); err == nil {
				t.Fatal("Markov without conversions must fail")
			}
			continue
		}
		m, err := Markov(paths)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Shapley(paths)
		if err != nil {
			t.Fatal(err)
		}
		var ms, ss float64
		for i := range m {
			ms += m[i].Share
			ss += s[i].Conversions
			if m[i].RemovalEffect < -1e-9 || s[i].Conversions < -1e-9 {
				t.Fatalf("negative credit: %+v %+v", m[i], s[i])
			}
		}
		if !near(ms, 1) || !near(ss, convs) {
			t.Fatalf("shares sum %v, Shapley sum %v of %v conversions", ms, ss, convs)
		}
	}
}
