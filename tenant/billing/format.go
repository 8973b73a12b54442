package billing

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// minorDigits lists ISO 4217 currencies whose minor unit is not 2 digits.
var minorDigits = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

// FormatAmount writes minor units in major units for the currency:
// 4900 AUD → "49.00", 4900 JPY → "4900".
func FormatAmount(cents int64, currency string) string {
	digits, ok := minorDigits[strings.ToUpper(currency)]
	if !ok {
		digits = 2
	}
	sign := ""
	u := uint64(cents)
	if cents < 0 {
		sign, u = "-", uint64(-(cents+1))+1
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

// FormatPreview writes one line per bill: tenant, group uid, amount,
// currency, then what a run does with it.
func FormatPreview(w io.Writer, lines []Line) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tGROUP\tAMOUNT\tCURRENCY\tACTION")
	var due int
	for _, l := range lines {
		if l.Due() {
			due++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.Tenant, l.GroupUID, amountCell(l), l.Currency, note(l))
	}
	fmt.Fprintf(tw, "%d bills to submit, %d lines\n", due, len(lines))
	return tw.Flush()
}

// FormatSummary writes a run's result: every line that is not settled as
// submitted, then the counts.
func FormatSummary(w io.Writer, s Summary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, l := range s.Lines {
		if l.Due() && l.Status != "submitted" {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.Tenant, l.GroupUID, amountCell(l), l.Currency,
				firstNonEmpty(l.Status, "not sent"), l.Error)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "complete"
	switch {
	case s.Cancelled:
		verdict = "cancelled"
	case !s.Complete():
		verdict = "incomplete"
	}
	cancelled := ""
	if s.CancelledBills > 0 {
		cancelled = fmt.Sprintf(", %d cancelled (bill again with --rebill UID)", s.CancelledBills)
	}
	_, err := fmt.Fprintf(w, "billing %s: %s — %d of %d submitted (%d found already sent), %d failed, %d not sent; "+
		"%d already submitted, %d to bill directly, %d with nothing to bill%s; %s\n",
		s.Period, verdict, s.Submitted, s.Due, s.Adopted, s.Failed, s.NotSent, s.Skipped, s.Direct, s.Nothing,
		cancelled, s.Duration.Round(1e6))
	return err
}

func amountCell(l Line) string {
	if l.Action == ActionDirect {
		return "-"
	}
	return FormatAmount(l.AmountCents, l.Currency)
}

func note(l Line) string {
	n := string(l.Action)
	if (l.Action == ActionSkip || l.Action == ActionCancelled) && l.RemoteID != "" {
		n += " (" + l.RemoteID + ")"
	}
	if l.Error != "" && l.Action != ActionSkip {
		n += ": " + l.Error
	}
	return n
}
