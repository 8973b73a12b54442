package remote_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/store"
	"github.com/tenantdesk/tenantdesk/store/etcdtest"
	"github.com/tenantdesk/tenantdesk/tenant/admin"
)

// On an etcd store, Cluster lists the replicas with a current presence key
// (this process's marked as This) and the etcd member that leads, through
// every transport an etcd store has; a replica that stops leaves the list.
func TestClusterOnEtcd(t *testing.T) {
	url := etcdtest.URL(t)
	db, err := store.OpenURL(url, store.TLSFiles{}, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	peer, err := store.OpenURL(url, store.TLSFiles{}, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	here := store.Replica{ID: store.ReplicaID(), Addr: "127.0.0.1:8765", AdminAddr: "127.0.0.1:8766", Version: "1.2.3"}
	if _, err := db.Announce(ctx, here); err != nil {
		t.Fatal(err)
	}
	peerCtx, stopPeer := context.WithCancel(ctx)
	peerGone, err := peer.Announce(peerCtx, store.Replica{ID: "other-host:4242", Addr: "10.0.0.12:8765", Version: "1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	svc := admin.New(db, admin.Options{PublicURL: "https://td.example.com", Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})

	for _, tr := range transports {
		if tr.fileOnly {
			continue
		}
		t.Run(tr.name, func(t *testing.T) {
			st, err := tr.open(t, svc).Cluster()
			if err != nil {
				t.Fatal(err)
			}
			if st.Backend != admin.BackendEtcd || st.Location != url || st.This != here.ID {
				t.Errorf("backend %q at %q, this %q; want etcd at %q, this %q", st.Backend, st.Location, st.This, url, here.ID)
			}
			ids := make([]string, len(st.Replicas))
			for i, r := range st.Replicas {
				ids[i] = r.ID
				if ago := st.Generated.Sub(r.LastSeen); ago < 0 || ago > 15*time.Second {
					t.Errorf("replica %s last seen %v before the answer", r.ID, ago)
				}
			}
			if !slices.Equal(ids, []string{here.ID, "other-host:4242"}) && !slices.Equal(ids, []string{"other-host:4242", here.ID}) {
				t.Fatalf("replicas %q, want this one and the peer", ids)
			}
			i := slices.IndexFunc(st.Replicas, func(r store.Replica) bool { return r.ID == st.This })
			if i < 0 {
				t.Fatalf("this replica %q is not among %q", st.This, ids)
			}
			if r := st.Replicas[i]; r.Addr != here.Addr || r.AdminAddr != here.AdminAddr || r.Version != here.Version {
				t.Errorf("this replica %+v, want what it announced %+v", r, here)
			}
			if len(st.Members) != 1 {
				t.Fatalf("members %+v, want the one embedded member", st.Members)
			}
			m := st.Members[0]
			if !m.Leader || !m.Healthy || m.DBSize <= 0 || len(m.ClientURL) == 0 || !strings.Contains(url, strings.TrimPrefix(m.ClientURL[0], "http://")) {
				t.Errorf("member %+v, want the store's member, healthy, leading, with its size", m)
			}
		})
	}

	stopPeer()
	<-peerGone
	st, err := svc.Cluster()
	if err != nil || len(st.Replicas) != 1 || st.Replicas[0].ID != here.ID {
		t.Fatalf("after the peer stopped: %+v, %v; want this replica alone", st.Replicas, err)
	}
}
