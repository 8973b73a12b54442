// Package money is the one place amounts cross between int64 minor units
// (what the store keeps: cents for AUD, yen for JPY, fils for KWD) and
// text (what people type and read, what Connec! sends as decimal major
// units). It knows each currency's minor unit (ISO 4217), so 4900 JPY is
// "4900 JPY", 4900 AUD is "49.00 AUD" and 4900 KWD is "4.900 KWD".
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

// ValidCode reports whether s is a currency code as it is stored: three
// upper-case letters (ISO 4217's shape; the list itself changes).
func ValidCode(s string) bool {
	return len(s) == 3 && isUpper(s[0]) && isUpper(s[1]) && isUpper(s[2])
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

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
