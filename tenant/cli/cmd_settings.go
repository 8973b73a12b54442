package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/tenantdesk/tenantdesk/tenant/admin"
	"github.com/tenantdesk/tenantdesk/tenant/settings"
)

// cmdSettings lists, reads, sets and unsets the settings kept in the data
// file (SPEC §2). It only parses, calls the admin service and prints.
func cmdSettings(ctx context.Context, g globals, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	svc, done, code := openAdmin(ctx, g, stderr)
	if svc == nil {
		return code
	}
	defer done()
	verb := "list"
	if len(args) > 0 {
		verb, args = args[0], args[1:]
	}
	switch verb {
	case "list":
		if len(args) != 0 {
			return exitf(stderr, "settings: takes no arguments (or get KEY, set KEY VALUE, unset KEY)")
		}
		list, err := svc.Settings()
		if err != nil {
			return exitf(stderr, "settings: %v", err)
		}
		printSettings(stdout, list)
		return 0
	case "get":
		if len(args) != 1 {
			return exitf(stderr, "settings get: want one KEY")
		}
		v, err := svc.Setting(args[0])
		if err != nil {
			return exitf(stderr, "settings get: %v", err)
		}
		fmt.Fprintln(stdout, v.Value)
		if v.Problem != "" {
			return exitf(stderr, "settings get: %s", v.Problem)
		}
		return 0
	case "set":
		if len(args) != 2 {
			return exitf(stderr, "settings set: want KEY VALUE (VALUE - reads it from standard input)")
		}
		key, value := args[0], args[1]
		if value == "-" {
			// Secrets need not appear in the process list or shell history.
			b, err := io.ReadAll(io.LimitReader(stdin, 64<<10))
			if err != nil {
				return exitf(stderr, "settings set %s: read standard input: %v", key, err)
			}
			value = strings.TrimRight(string(b), "\r\n")
		}
		if err := svc.SetSetting(key, value); err != nil {
			return settingsError(stderr, "settings set", err)
		}
		return reportSetting(svc, key, stdout, stderr)
	case "unset":
		if len(args) != 1 {
			return exitf(stderr, "settings unset: want one KEY")
		}
		if err := svc.UnsetSetting(args[0]); err != nil {
			return settingsError(stderr, "settings unset", err)
		}
		return reportSetting(svc, args[0], stdout, stderr)
	}
	return exitf(stderr, "settings: unknown verb %q (want get, set or unset, or nothing to list)", verb)
}

// settingsError prints a refused change; the message names the key and
// what it wants, and nothing was written.
func settingsError(stderr io.Writer, what string, err error) int {
	var se *settings.Error
	if errors.As(err, &se) || errors.Is(err, settings.ErrUnknownKey) {
		return exitf(stderr, "%s: nothing saved:\n%v", what, err)
	}
	return exitf(stderr, "%s: %v", what, err)
}

// reportSetting prints what a change left in effect, and says so when a
// flag or variable still overrides the stored value.
func reportSetting(svc admin.API, key string, stdout, stderr io.Writer) int {
	v, err := svc.Setting(key)
	if err != nil {
		return exitf(stderr, "settings: %v", err)
	}
	fmt.Fprintf(stdout, "%s = %s (%s)\n", v.Key, orUnset(v.Value), v.Describe())
	if v.Overridden() {
		fmt.Fprintf(stdout, "note: %s overrides the stored value in this shell\n", v.Origin)
	}
	return 0
}

func orUnset(v string) string {
	if v == "" {
		return "(unset)"
	}
	return v
}

// printSettings is the `tenantdesk settings` table: key, effective value
// (secrets masked), where it comes from, and the stored value when
// something overrides it.
func printSettings(w io.Writer, list []settings.Value) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE")
	for _, v := range list {
		src := v.Describe()
		if v.Overridden() {
			src = strings.Replace(src, "(overrides stored)", "(overrides stored "+v.Stored+")", 1)
		}
		if v.Value == "" && v.Source == settings.FromDefault {
			src = "unset"
		}
		if v.Problem != "" {
			src += " — INVALID: " + v.Problem
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Key, orUnset(v.Value), src)
	}
	_ = tw.Flush()
}
