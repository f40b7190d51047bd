package money

import (
	"errors"
	"math"
	"testing"
)

func TestParseMinor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, cur string
		want    int64
		err     error
	}{
		{"1234.50", "USD", 123450, nil},
		{"1234.5", "USD", 123450, nil},
		{"0", "EUR", 0, nil},
		{"0.01", "GBP", 1, nil},
		{"1500", "JPY", 1500, nil},
		{"1.234", "KWD", 1234, nil},
		{"92233720368547758.07", "USD", math.MaxInt64, nil},
		{"92233720368547758.08", "USD", 0, ErrInvalidAmount},
		{"10.005", "USD", 0, ErrInvalidAmount},
		{"10.5", "JPY", 0, ErrInvalidAmount},
		{"", "USD", 0, ErrInvalidAmount},
		{"1.", "USD", 0, ErrInvalidAmount},
		{".5", "USD", 0, ErrInvalidAmount},
		{"-1", "USD", 0, ErrInvalidAmount},
		{"1e3", "USD", 0, ErrInvalidAmount},
		{"1,5", "USD", 0, ErrInvalidAmount},
		{"10", "XXX", 0, ErrUnknownCurrency},
	}
	for _, tt := range tests {
		got, err := ParseMinor(tt.in, tt.cur)
		if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
			t.Errorf("ParseMinor(%q, %s) error = %v, want %v", tt.in, tt.cur, err, tt.err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseMinor(%q, %s) = %d, want %d", tt.in, tt.cur, got, tt.want)
		}
	}
}

func TestFormatMinor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    int64
		cur  string
		want string
	}{
		{123450, "USD", "1234.50"},
		{5, "USD", "0.05"},
		{-1205, "EUR", "-12.05"},
		{1500, "JPY", "1500"},
		{1234, "KWD", "1.234"},
		{math.MinInt64, "USD", "-92233720368547758.08"},
	}
	for _, tt := range tests {
		got, err := FormatMinor(tt.v, tt.cur)
		if err != nil || got != tt.want {
			t.Errorf("FormatMinor(%d, %s) = %q, %v; want %q", tt.v, tt.cur, got, err, tt.want)
		}
	}
}

func FuzzParseMinor(f *testing.F) {
	for _, s := range []string{"1234.50", "0", "1.", "99999999999999999999", "\x00", "1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseMinor(s, "USD")
		if err != nil {
			return
		}
		if v < 0 {
			t.Fatalf("ParseMinor(%q) = %d, negative", s, v)
		}
		back, err := FormatMinor(v, "USD")
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseMinor(back, "USD")
		if err != nil || again != v {
			t.Fatalf("round trip %q -> %d -> %q -> %d, %v", s, v, back, again, err)
		}
	})
}

func BenchmarkParseMinor(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseMinor("123456.78", "USD"); err != nil {
			b.Fatal(err)
		}
	}
}
