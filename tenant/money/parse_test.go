package money

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		text, currency string
		want           int64
	}{
		{"19.99", "AUD", 1999}, {"19.9", "AUD", 1990}, {"19", "AUD", 1900}, {"", "AUD", 0}, {" 7 ", "AUD", 700},
		{"-0.05", "EUR", -5}, {".5", "AUD", 50},
		{"4900", "JPY", 4900}, {"-4900", "JPY", -4900},
		{"4.9", "KWD", 4900}, {"4.900", "KWD", 4900}, {"0.001", "BHD", 1},
		{"92233720368547758.07", "AUD", math.MaxInt64}, {"-92233720368547758.08", "AUD", math.MinInt64},
		{"9223372036854775807", "JPY", math.MaxInt64},
	} {
		if got, err := Parse(c.text, c.currency); err != nil || got != c.want {
			t.Errorf("Parse(%q, %s) = %d, %v; want %d", c.text, c.currency, got, err, c.want)
		}
	}
	for _, c := range []struct{ text, currency, says string }{
		{"1.999", "AUD", `want an amount like 19.99`},
		{"49.5", "JPY", `want an amount like 4900`},
		{"4.9001", "KWD", `want an amount like 19.999`},
		{"abc", "AUD", ""}, {".", "AUD", ""}, {"1.", "AUD", ""}, {"1e5", "AUD", ""}, {"--1", "AUD", ""},
		{"٣.١٤", "AUD", ""}, {"92233720368547758.08", "AUD", ""}, {"1,000", "AUD", ""},
	} {
		got, err := Parse(c.text, c.currency)
		if !errors.Is(err, ErrAmount) {
			t.Errorf("Parse(%q, %s) = %d, %v; want ErrAmount", c.text, c.currency, got, err)
		} else if c.says != "" && !strings.Contains(err.Error(), c.says) {
			t.Errorf("Parse(%q, %s): %v; want it to say %q", c.text, c.currency, err, c.says)
		}
	}
}

func TestFromDecimal(t *testing.T) {
	for _, c := range []struct {
		in, currency string
		want         int64
	}{
		{"0", "AUD", 0}, {"12", "AUD", 1200}, {"12.3", "AUD", 1230}, {"12.345", "AUD", 1235}, {"12.344", "AUD", 1234},
		{"-12.345", "AUD", -1235}, {"-0.004", "AUD", 0}, {"0.005", "AUD", 1}, {"1e2", "AUD", 10000},
		{"1.5E-1", "AUD", 15}, {"-2.5e-2", "AUD", -3}, {"92233720368547758.07", "AUD", math.MaxInt64},
		{"4900", "JPY", 4900}, {"4900.5", "JPY", 4901}, {"4900.49", "JPY", 4900}, {"-0.5", "JPY", -1},
		{"4.9", "KWD", 4900}, {"4.9005", "KWD", 4901}, {"1.25", "BHD", 1250}, {"110.0", "KWD", 110000},
	} {
		if got, err := FromDecimal(c.in, c.currency); err != nil || got != c.want {
			t.Errorf("FromDecimal(%s, %s) = %d, %v; want %d", c.in, c.currency, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "x", "92233720368547758.08", "1e400", "--1"} {
		if got, err := FromDecimal(bad, "AUD"); !errors.Is(err, ErrAmount) {
			t.Errorf("FromDecimal(%q) = %d, %v; want ErrAmount", bad, got, err)
		}
	}
}

// What Amount writes, Parse and FromDecimal read back, for every kind of
// currency: the wire (Connec!) and the GUI both round-trip.
func TestAmountRoundTrips(t *testing.T) {
	for _, cur := range []string{"AUD", "JPY", "KWD", "BHD", "CLF", "XYZ"} {
		for _, m := range []int64{0, 1, -1, 5, 99, 100, 1999, -4900, 123456789, math.MinInt64, math.MaxInt64} {
			text := Amount(m, cur)
			if got, err := Parse(text, cur); err != nil || got != m {
				t.Errorf("%s: Parse(Amount(%d) = %q) = %d, %v", cur, m, text, got, err)
			}
			if got, err := FromDecimal(text, cur); err != nil || got != m {
				t.Errorf("%s: FromDecimal(Amount(%d) = %q) = %d, %v", cur, m, text, got, err)
			}
		}
	}
}

func TestValidCode(t *testing.T) {
	for s, want := range map[string]bool{"AUD": true, "JPY": true, "aud": false, "AU": false, "AUDD": false, "A1D": false, "": false} {
		if ValidCode(s) != want {
			t.Errorf("ValidCode(%q) = %v", s, !want)
		}
	}
}

// Parse never panics, and what it reads Amount writes back to the same value.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"19.99", "-0.05", "", ".", "1e5", "99999999999999.99", "٣.١٤", "4900", "4.900"} {
		f.Add(s, "AUD")
		f.Add(s, "JPY")
		f.Add(s, "KWD")
	}
	f.Fuzz(func(t *testing.T, s, cur string) {
		m, err := Parse(s, cur)
		if err != nil {
			return
		}
		if back, err := Parse(Amount(m, cur), cur); err != nil || back != m {
			t.Fatalf("%q %s → %d → %q → %d, %v", s, cur, m, Amount(m, cur), back, err)
		}
	})
}

// FromDecimal's fast paths and the exact big.Rat arithmetic agree on every
// plain decimal.
func FuzzFromDecimal(f *testing.F) {
	for _, s := range []string{"0", "1.005", "-12.345", "999999999999999.999", "0.5", "-0.5", "4900.5"} {
		f.Add(s, "AUD")
		f.Add(s, "JPY")
		f.Add(s, "KWD")
	}
	f.Fuzz(func(t *testing.T, s, cur string) {
		got, err := FromDecimal(s, cur)
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			return // "1." and the like
		}
		r.Mul(r, new(big.Rat).SetInt64(pow10(Digits(cur))))
		half := big.NewRat(1, 2)
		if r.Sign() < 0 {
			half.Neg(half)
		}
		r.Add(r, half)
		exact := new(big.Int).Quo(r.Num(), r.Denom())
		if !exact.IsInt64() {
			if err == nil {
				t.Fatalf("%q %s: %d, want out of range", s, cur, got)
			}
			return
		}
		if err != nil || exact.Int64() != got {
			t.Fatalf("%q %s: got %d, %v; exact %s", s, cur, got, err, exact)
		}
	})
}
