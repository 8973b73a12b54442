package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// The cluster's view of itself (SPEC §14, `tenantdesk cluster status`):
// each serve replica keeps a presence key under a lease while it runs, and
// the etcd members say which of them leads.

// ErrNotCluster is returned by what only an etcd store has.
var ErrNotCluster = errors.New("not an etcd store (give --store etcd://…)")

// Replica is one running serve process on the store.
type Replica struct {
	ID        string    `json:"id"` // host:pid, unique while it runs
	Host      string    `json:"host"`
	Addr      string    `json:"addr"`       // its listener's address
	PublicURL string    `json:"public_url"` // the load balancer's URL, the same for all
	AdminAddr string    `json:"admin_addr,omitempty"`
	Version   string    `json:"version"`
	Started   time.Time `json:"started"`
	LastSeen  time.Time `json:"last_seen"`
}

// presenceTTL is how long a replica's presence outlives its last renewal:
// a replica killed without a word drops out of cluster status after it.
const presenceTTL = 10 // seconds

// Announce keeps r's presence key until ctx ends, renewing it (and its
// LastSeen) every few seconds; the key is revoked at once when ctx ends.
// The channel returned is closed once the key is gone.
func (db *DB) Announce(ctx context.Context, r Replica) (<-chan struct{}, error) {
	if db.etcd == nil {
		return nil, ErrNotCluster
	}
	s := db.etcd
	k := s.prefix + etcdReplicasDir + r.ID
	put := func(lease clientv3.LeaseID) error {
		r.LastSeen = time.Now().UTC()
		v, err := json.Marshal(r)
		if err != nil {
			return err
		}
		c, cancel := s.ctx()
		defer cancel()
		_, err = s.cli.Put(c, k, string(v), clientv3.WithLease(lease))
		return err
	}
	c, cancel := s.ctx()
	g, err := s.cli.Grant(c, presenceTTL)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("announce replica: %w", err)
	}
	if err := put(g.ID); err != nil {
		return nil, fmt.Errorf("announce replica: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		lease := g.ID
		tick := time.NewTicker(presenceTTL * time.Second / 3)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				c, cancel := s.ctx()
				_, _ = s.cli.Revoke(c, lease)
				cancel()
				return
			case <-tick.C:
			}
			c, cancel := s.ctx()
			_, err := s.cli.KeepAliveOnce(c, lease)
			cancel()
			if err != nil { // expired meanwhile (a long stall): a new lease
				c, cancel := s.ctx()
				if g, gerr := s.cli.Grant(c, presenceTTL); gerr == nil {
					lease = g.ID
				}
				cancel()
			}
			_ = put(lease)
		}
	}()
	return done, nil
}

// probeTimeout bounds each read of the cluster's status: a person (cluster
// status, the GUI's Cluster screen every few seconds) waits for it, and a
// cluster that does not answer in it is the answer, not a stall to sit out.
const probeTimeout = 3 * time.Second

// probeErr says what a status read that timed out means.
func probeErr(what string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: no etcd member answered within %v: %w", what, probeTimeout, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Replicas lists the replicas whose presence is current, by id.
func (db *DB) Replicas() ([]Replica, error) {
	if db.etcd == nil {
		return nil, ErrNotCluster
	}
	s := db.etcd
	c, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	resp, err := s.cli.Get(c, s.prefix+etcdReplicasDir, clientv3.WithPrefix())
	if err != nil {
		return nil, probeErr("replicas", err)
	}
	var out []Replica
	for _, kv := range resp.Kvs {
		var r Replica
		if err := json.Unmarshal(kv.Value, &r); err != nil {
			return nil, fmt.Errorf("%w: replica %q: %v", ErrCorrupt, kv.Key, err)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Member is one etcd member of the store's cluster.
type Member struct {
	ID        uint64   `json:"id"`
	Name      string   `json:"name"`
	ClientURL []string `json:"client_urls"`
	Leader    bool     `json:"leader"`
	Healthy   bool     `json:"healthy"` // it answered its status just now
	DBSize    int64    `json:"db_size"`
	Version   string   `json:"version"`
}

// Members lists the etcd members by name, which one leads, and the size of each
// one's database (the quota is on it).
func (db *DB) Members() ([]Member, error) {
	if db.etcd == nil {
		return nil, ErrNotCluster
	}
	s := db.etcd
	c, cancel := context.WithTimeout(context.Background(), probeTimeout)
	ml, err := s.cli.MemberList(c)
	cancel()
	if err != nil {
		return nil, probeErr("etcd members", err)
	}
	var leader uint64
	out := make([]Member, 0, len(ml.Members))
	for _, m := range ml.Members {
		mem := Member{ID: m.ID, Name: m.Name, ClientURL: m.ClientURLs}
		for _, u := range m.ClientURLs {
			sc, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			st, err := s.cli.Status(sc, u)
			cancel()
			if err == nil {
				mem.Healthy, mem.DBSize, mem.Version, leader = true, st.DbSize, st.Version, st.Leader
				break
			}
		}
		out = append(out, mem)
	}
	for i := range out {
		out[i].Leader = out[i].ID == leader
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ReplicaID is the id this process announces under when it serves as a
// replica (host:pid): `cluster status` and the admin service's view of the
// cluster name "this replica" with it.
func ReplicaID() string {
	host, _ := os.Hostname()
	return host + ":" + strconv.Itoa(os.Getpid())
}
