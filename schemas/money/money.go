// Package money converts decimal amount strings to integer minor units of an
// ISO 4217 currency and back. reftrack never holds money in a float: amounts
// travel as decimal strings from partners and as int64 minor units inside.
package money

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// ErrUnknownCurrency reports a currency code reftrack has no minor-unit
// exponent for; guessing one would mis-scale every amount by powers of ten.
var ErrUnknownCurrency = errors.New("unknown currency")

// ErrInvalidAmount reports a string that is not a plain non-negative decimal
// with at most the currency's minor digits.
var ErrInvalidAmount = errors.New("invalid amount")

// exponents holds ISO 4217 minor-unit digits for the currencies reftrack
// accepts. Two is the common case; the others are listed on purpose.
var exponents = map[string]int{
	"AED": 2, "ARS": 2, "AUD": 2, "BGN": 2, "BRL": 2, "CAD": 2, "CHF": 2, "CLP": 0,
	"CNY": 2, "COP": 2, "CZK": 2, "DKK": 2, "EGP": 2, "EUR": 2, "GBP": 2, "HKD": 2,
	"HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "ISK": 0, "JPY": 0, "KES": 2, "KRW": 0,
	"MAD": 2, "MXN": 2, "MYR": 2, "NGN": 2, "NOK": 2, "NZD": 2, "PEN": 2, "PHP": 2,
	"PKR": 2, "PLN": 2, "RON": 2, "SAR": 2, "SEK": 2, "SGD": 2, "THB": 2, "TRY": 2,
	"TWD": 2, "UAH": 2, "USD": 2, "VND": 0, "ZAR": 2,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

// Exponent returns the number of minor-unit digits of an ISO 4217 currency.
func Exponent(currency string) (int, error) {
	e, ok := exponents[currency]
	if !ok {
		return 0, fmt.Errorf("%w %q", ErrUnknownCurrency, currency)
	}
	return e, nil
}

// ParseMinor parses a non-negative decimal string such as "1234.50" into
// minor units of currency (123450 for USD). More fractional digits than the
// currency has is an error, not a rounding: a partner that sends 10.005 USD
// has a bug we must surface, not hide.
func ParseMinor(s, currency string) (int64, error) {
	exp, err := Exponent(currency)
	if err != nil {
		return 0, err
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && frac == "") {
		return 0, fmt.Errorf("%w %q: want digits[.digits]", ErrInvalidAmount, s)
	}
	if len(frac) > exp {
		return 0, fmt.Errorf("%w %q: %s has %d minor digits", ErrInvalidAmount, s, currency, exp)
	}
	var v int64
	for _, part := range []string{whole, frac + strings.Repeat("0", exp-len(frac))} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("%w %q: unexpected %q", ErrInvalidAmount, s, c)
			}
			d := int64(c - '0')
			if v > (math.MaxInt64-d)/10 {
				return 0, fmt.Errorf("%w %q: too large", ErrInvalidAmount, s)
			}
			v = v*10 + d
		}
	}
	return v, nil
}

// FormatMinor renders minor units as a decimal string in major units
// ("-12.05" for -1205 USD). It is the inverse of ParseMinor for non-negative
// amounts.
func FormatMinor(v int64, currency string) (string, error) {
	exp, err := Exponent(currency)
	if err != nil {
		return "", err
	}
	sign := ""
	u := uint64(v)
	if v < 0 {
		sign, u = "-", uint64(-(v+1))+1
	}
	digits := fmt.Sprintf("%0*d", exp+1, u)
	if exp == 0 {
		return sign + digits, nil
	}
	return sign + digits[:len(digits)-exp] + "." + digits[len(digits)-exp:], nil
}
