// Package money is the one place amounts are written for people: it knows
// each currency's minor units (ISO 4217), so 4900 JPY is "4900 JPY" and
// 4900 AUD is "49.00 AUD".
package money

import (
	"fmt"
	"strings"
)

// minorDigits lists ISO 4217 currencies whose minor unit is not 2 digits.
var minorDigits = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	"CLF": 4, "UYW": 4,
}

// Digits is the number of minor-unit digits of currency (2 when unknown).
func Digits(currency string) int {
	if d, ok := minorDigits[strings.ToUpper(strings.TrimSpace(currency))]; ok {
		return d
	}
	return 2
}

// Amount writes an amount in the currency's minor units as major units:
// 4900 AUD → "49.00", 4900 JPY → "4900", 4900 KWD → "4.900".
func Amount(minor int64, currency string) string {
	return decimal(minor, Digits(currency))
}

// Format is Amount followed by the currency code: "49.00 AUD", "4900 JPY".
func Format(minor int64, currency string) string {
	return strings.TrimSpace(Amount(minor, currency) + " " + strings.ToUpper(strings.TrimSpace(currency)))
}

// FormatHundredths writes an amount kept in hundredths of the major unit
// whatever the currency (invoices: Connec!'s decimal amounts × 100), to
// the currency's own precision when that loses nothing.
func FormatHundredths(hundredths int64, currency string) string {
	d := Digits(currency)
	switch {
	case d == 2:
		return Format(hundredths, currency)
	case d < 2 && hundredths%100 == 0:
		return Format(hundredths/100, currency)
	case d > 2:
		scale := int64(1)
		for range d - 2 {
			scale *= 10
		}
		if m := hundredths * scale; m/scale == hundredths {
			return Format(m, currency)
		}
	}
	return strings.TrimSpace(decimal(hundredths, 2) + " " + strings.ToUpper(strings.TrimSpace(currency)))
}

func decimal(minor int64, digits int) string {
	sign := ""
	u := uint64(minor)
	if minor < 0 {
		sign, u = "-", uint64(-(minor+1))+1 // safe for MinInt64
	}
	if digits == 0 {
		return fmt.Sprintf("%s%d", sign, u)
	}
	div := uint64(1)
	for range digits {
		div *= 10
	}
	return fmt.Sprintf("%s%d.%0*d", sign, u/div, digits, u%div)
}
