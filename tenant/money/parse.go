package money

// This file reads amounts: Parse for what a person types (exact, no more
// decimals than the currency has), FromDecimal for what another system
// sends (any decimal, rounded half away from zero to the minor unit).
// Neither goes through float64.

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// ErrAmount is wrapped by every error about an amount's text.
var ErrAmount = errors.New("not an amount")

// Parse reads an amount in major units of currency ("19.99", "-0.05",
// "4900" for JPY, "4.900" for KWD) as minor units. Blank is 0 (an empty
// field). More decimals than the currency has, an exponent, or anything
// but digits, one '.' and a leading '-' is an error saying what it wants.
func Parse(text, currency string) (int64, error) {
	s := strings.TrimSpace(text)
	if s == "" {
		return 0, nil
	}
	d := Digits(currency)
	minor, frac, ok := plain(s, d)
	if !ok || frac > d {
		return 0, fmt.Errorf("%w: %q: want an amount like %s", ErrAmount, clip(s), example(d))
	}
	return minor, nil
}

// FromDecimal converts a decimal number in major units of currency, as
// another system writes it ("12.5", "12.345", "1e2", "-2.5E-2"), to minor
// units, exactly, rounding half away from zero to the minor unit.
func FromDecimal(s, currency string) (int64, error) {
	d := Digits(currency)
	if minor, frac, ok := plain(s, d); ok && frac <= d {
		return minor, nil
	}
	if minor, ok := plainRounded(s, d); ok {
		return minor, nil
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, fmt.Errorf("%w: %q is not a number", ErrAmount, clip(s))
	}
	r.Mul(r, new(big.Rat).SetInt64(pow10(d)))
	half := big.NewRat(1, 2) // half away from zero: add ±1/2 and truncate
	if r.Sign() < 0 {
		half.Neg(half)
	}
	r.Add(r, half)
	q := new(big.Int).Quo(r.Num(), r.Denom())
	if !q.IsInt64() {
		return 0, fmt.Errorf("%w: %q is out of range", ErrAmount, clip(s))
	}
	return q.Int64(), nil
}

// plain reads "-123.45" (digits, at most one '.', a leading '-', no
// exponent) as minor units with d decimals; frac is how many decimals the
// text had, and ok is false for any other shape or an overflow. Decimals
// past d are dropped (the caller refuses or rounds them).
func plain(s string, d int) (minor int64, frac int, ok bool) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	whole, fraction, hasDot := strings.Cut(s, ".")
	if whole == "" && fraction == "" || !digits(whole) || !digits(fraction) || hasDot && fraction == "" {
		return 0, 0, false
	}
	var u uint64
	const limit = 1 << 63
	for i := 0; i < len(whole)+d; i++ {
		var c byte = '0'
		switch {
		case i < len(whole):
			c = whole[i]
		case i-len(whole) < len(fraction):
			c = fraction[i-len(whole)]
		}
		digit := uint64(c - '0')
		if u > limit/10 || u == limit/10 && digit > limit%10 {
			return 0, 0, false
		}
		u = u*10 + digit
	}
	switch {
	case neg && u == limit:
		return -1 << 63, len(fraction), true
	case neg:
		return -int64(u), len(fraction), true
	case u < limit:
		return int64(u), len(fraction), true
	}
	return 0, 0, false
}

// plainRounded is FromDecimal's fast path for a plain decimal with more
// decimals than d: the first dropped digit rounds half away from zero.
func plainRounded(s string, d int) (int64, bool) {
	minor, frac, ok := plain(s, d)
	if !ok || frac <= d {
		return 0, false
	}
	dot := strings.IndexByte(s, '.')
	if s[dot+1+d] < '5' {
		return minor, true
	}
	if strings.HasPrefix(s, "-") {
		if minor == -1<<63 {
			return 0, false
		}
		return minor - 1, true
	}
	if minor == 1<<63-1 {
		return 0, false
	}
	return minor + 1, true
}

// example is an amount with d decimals, for messages: "4900" (JPY),
// "19.99" (AUD), "19.999" (KWD).
func example(d int) string {
	if d == 0 {
		return "4900"
	}
	return "19." + strings.Repeat("9", d)
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func pow10(d int) int64 {
	p := int64(1)
	for range d {
		p *= 10
	}
	return p
}

func clip(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:40] + "…"
}
