package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// cmdStore: `store copy --from URL|FILE --to URL|FILE` (SPEC §14).
func cmdStore(_ context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "copy" {
		return exitf(stderr, "usage: tenantdesk store copy --from URL|FILE --to URL|FILE")
	}
	fs := flag.NewFlagSet("store copy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "source: a data file, or etcd://… / etcds://…")
	to := fs.String("to", "", "target, empty: a data file, or etcd://… / etcds://…")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *from == "" || *to == "" || fs.NArg() != 0 {
		return exitf(stderr, "usage: tenantdesk store copy --from URL|FILE --to URL|FILE")
	}
	if *from == *to {
		return exitf(stderr, "store copy: --from and --to are the same store")
	}
	src, err := openStoreAt(g, *from, false)
	if err != nil {
		return exitf(stderr, "store copy: --from: %v", err)
	}
	defer src.Close()
	dst, err := openStoreAt(g, *to, true)
	if err != nil {
		return exitf(stderr, "store copy: --to: %v", err)
	}
	start := time.Now()
	res, err := store.Copy(dst, src)
	if cerr := dst.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return exitf(stderr, "store copy: %v", err)
	}
	fmt.Fprintf(stdout, "copied %d keys of %d buckets from %s to %s in %s\n", res.Keys, res.Buckets, *from, *to,
		time.Since(start).Round(time.Millisecond))
	return 0
}

// openStoreAt opens the store named by where (a URL or a file) with this
// process's master keys and --store-* files; a file must exist unless it
// is to be the target.
func openStoreAt(g globals, where string, create bool) (*store.DB, error) {
	if store.IsURL(where) {
		return store.OpenURL(where, g.storeTLS, g.storeOptions())
	}
	if !create {
		if _, err := os.Stat(where); err != nil {
			return nil, err
		}
	}
	db, err := store.Open(where, g.storeOptions())
	if err != nil {
		return nil, openFailed(where, err)
	}
	return db, nil
}

// cmdCluster: `cluster status [--json]`, the replicas and the etcd members.
func cmdCluster(_ context.Context, g globals, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "status" {
		return exitf(stderr, "usage: tenantdesk --store etcd://… cluster status [--json]")
	}
	fs := flag.NewFlagSet("cluster status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "JSON instead of a table")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if g.storeURL == "" {
		return exitf(stderr, "cluster status: %v", store.ErrNotCluster)
	}
	db, err := openDB(&g)
	if err != nil {
		return exitf(stderr, "cluster status: %v", err)
	}
	defer db.Close()
	replicas, err := db.Replicas()
	if err != nil {
		return exitf(stderr, "cluster status: %v", err)
	}
	members, err := db.Members()
	if err != nil {
		return exitf(stderr, "cluster status: %v", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if replicas == nil {
			replicas = []store.Replica{}
		}
		_ = enc.Encode(struct {
			Replicas []store.Replica `json:"replicas"`
			Members  []store.Member  `json:"members"`
		}{replicas, members})
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REPLICA\tADDRESS\tVERSION\tLAST SEEN")
	for _, r := range replicas {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s ago\n", r.ID, r.Addr, r.Version, time.Since(r.LastSeen).Round(time.Second))
	}
	fmt.Fprintln(tw, "\nMEMBER\tCLIENT URLS\tLEADER\tHEALTHY\tDB SIZE")
	for _, m := range members {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", m.Name, strings.Join(m.ClientURL, ","), yes(m.Leader), yes(m.Healthy), m.DBSize)
	}
	_ = tw.Flush()
	return 0
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// announce keeps this replica's presence on the cluster while serve runs.
func announce(ctx context.Context, g globals, db *store.DB, adminAddr string) (wait func(), err error) {
	host, _ := os.Hostname()
	r := store.Replica{ID: store.ReplicaID(), Host: host, Addr: g.addr, PublicURL: g.publicURL,
		AdminAddr: adminAddr, Version: g.program.Version, Started: time.Now().UTC()}
	done, err := db.Announce(ctx, r)
	if err != nil {
		if errors.Is(err, store.ErrNotCluster) {
			return func() {}, nil
		}
		return nil, err
	}
	return func() { <-done }, nil
}
