package money

import (
	"math"
	"testing"
)

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		minor    int64
		currency string
		want     string
	}{
		{4900, "AUD", "49.00 AUD"},
		{4900, "JPY", "4900 JPY"},
		{4900, "jpy", "4900 JPY"},
		{4900, "KRW", "4900 KRW"},
		{4900, "KWD", "4.900 KWD"},
		{4900, "BHD", "4.900 BHD"},
		{4900, "OMR", "4.900 OMR"},
		{4900, "JOD", "4.900 JOD"},
		{4900, "TND", "4.900 TND"},
		{5, "USD", "0.05 USD"},
		{-5, "EUR", "-0.05 EUR"},
		{-4900, "JPY", "-4900 JPY"},
		{0, "AUD", "0.00 AUD"},
		{12345, "XYZ", "123.45 XYZ"}, // unknown: 2 digits
		{math.MinInt64, "AUD", "-92233720368547758.08 AUD"},
		{math.MaxInt64, "JPY", "9223372036854775807 JPY"},
		{1999, "", "19.99"},
	} {
		if got := Format(c.minor, c.currency); got != c.want {
			t.Errorf("Format(%d, %q) = %q, want %q", c.minor, c.currency, got, c.want)
		}
	}
}
