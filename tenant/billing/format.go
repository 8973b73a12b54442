package billing

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/tenantdesk/tenantdesk/tenant/money"
)

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
	return money.Amount(l.AmountCents, l.Currency)
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
