package connec

// This file converts money between the wire and the store. Connec! writes
// decimal major units ("12.50") with a currency in each price object;
// locally amounts are int64 cents. Conversion is exact decimal arithmetic
// (no float64), rounded half away from zero to 2 decimals.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

var hundred = big.NewRat(100, 1)

// toCents converts a decimal amount in major units to cents, exactly.
func toCents(n json.Number) (int64, error) {
	if c, ok := plainCents(string(n)); ok {
		return c, nil
	}
	r, ok := new(big.Rat).SetString(string(n))
	if !ok {
		return 0, fmt.Errorf("amount %q is not a number", string(n))
	}
	r.Mul(r, hundred)
	// Round half away from zero: add ±1/2 and truncate.
	half := big.NewRat(1, 2)
	if r.Sign() < 0 {
		half.Neg(half)
	}
	r.Add(r, half)
	q := new(big.Int).Quo(r.Num(), r.Denom())
	if !q.IsInt64() {
		return 0, fmt.Errorf("amount %q out of range", string(n))
	}
	return q.Int64(), nil
}

// plainCents is toCents' fast path for the common "-123.4567" form (no
// exponent, at most 15 integer digits); ok is false for anything else.
func plainCents(s string) (int64, bool) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(whole) > 15 || !digits(whole) || !digits(frac) {
		return 0, false
	}
	var c int64
	for i := 0; i < len(whole); i++ {
		c = c*10 + int64(whole[i]-'0')
	}
	for i := 0; i < 2; i++ {
		c *= 10
		if i < len(frac) {
			c += int64(frac[i] - '0')
		}
	}
	if len(frac) > 2 && frac[2] >= '5' { // half away from zero
		c++
	}
	if neg {
		c = -c
	}
	return c, true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func addCents(a, b int64) (int64, error) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, errors.New("amount out of range")
	}
	return s, nil
}

// amount writes cents as a decimal number in major units ("-12.05").
func amount(cents int64) json.Number {
	sign := ""
	u := uint64(cents)
	if cents < 0 {
		sign = "-"
		u = uint64(-(cents + 1)) + 1 // safe for MinInt64
	}
	return json.Number(fmt.Sprintf("%s%d.%02d", sign, u/100, u%100))
}
