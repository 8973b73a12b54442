package connec

import (
	"encoding/json"
	"math/big"
	"testing"
)

func TestCents(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "12": 1200, "12.3": 1230, "12.34": 1234, "12.345": 1235, "12.344": 1234,
		"-12.345": -1235, "-0.004": 0, "0.005": 1, "1e2": 10000, "1.5E-1": 15, "-2.5e-2": -3,
		"92233720368547758.07": 9223372036854775807,
	} {
		got, err := toCents(json.Number(in))
		if err != nil || got != want {
			t.Errorf("toCents(%s) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "92233720368547758.08", "1e400", "--1"} {
		if got, err := toCents(json.Number(bad)); err == nil {
			t.Errorf("toCents(%q) = %d, want an error", bad, got)
		}
	}
	for _, c := range []int64{0, 5, -5, 100, -1999, 123456789, -9223372036854775808, 9223372036854775807} {
		back, err := toCents(amount(c))
		if err != nil || back != c {
			t.Errorf("amount(%d) = %s reads back as %d, %v", c, amount(c), back, err)
		}
	}
}

// The fast path and the exact big.Rat path agree on every plain decimal.
func FuzzCents(f *testing.F) {
	for _, s := range []string{"0", "1.005", "-12.345", "999999999999999.999", "0.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fast, ok := plainCents(s)
		if !ok {
			return
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			return // "1." and the like: the fast path is the more lenient one
		}
		r.Mul(r, big.NewRat(100, 1))
		half := big.NewRat(1, 2)
		if r.Sign() < 0 {
			half.Neg(half)
		}
		r.Add(r, half)
		exact := new(big.Int).Quo(r.Num(), r.Denom())
		if !exact.IsInt64() || exact.Int64() != fast {
			t.Fatalf("%q: fast %d, exact %s", s, fast, exact)
		}
	})
}
