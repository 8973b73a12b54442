package admin

import (
	"time"

	"github.com/tenantdesk/tenantdesk/store"
)

// The store's backends, as ClusterStatus names them.
const (
	BackendFile = "bbolt file" // one process owns one data file
	BackendEtcd = "etcd"       // any number of serve replicas on one etcd cluster
)

// ClusterStatus is the store's cluster as `tenantdesk cluster status`
// shows it (SPEC §14): the serve replicas with a current presence key and
// the etcd members. On a data file there is no cluster: Backend says so and
// the lists are empty. It holds addresses and versions only, no secret.
type ClusterStatus struct {
	Backend  string
	Location string // the data file's path, or the store URL (members and prefix)
	// Generated is when the server read it, by its own wall clock (the
	// one presence keys are stamped with, not Options.Now): a replica was
	// last seen Generated.Sub(LastSeen) ago, whatever the caller's clock.
	Generated time.Time
	Replicas  []store.Replica
	Members   []store.Member
	// This is the replica id of the process that answered. It is among
	// Replicas when that process is a serve replica; a GUI or a CLI
	// working on the cluster directly announces none.
	This string
}

// Cluster reads the replicas and the etcd members. A data file is not an
// error: it is a cluster of none, said plainly.
func (s *Service) Cluster() (ClusterStatus, error) {
	st := ClusterStatus{Backend: BackendFile, Location: s.db.Path(), Generated: time.Now().UTC()}
	if !s.db.Etcd() {
		return st, nil
	}
	st.Backend, st.This = BackendEtcd, store.ReplicaID()
	// The store's errors name what was read ("replicas: no etcd member
	// answered…"); the caller says it was the cluster.
	var err error
	if st.Replicas, err = s.db.Replicas(); err != nil {
		return ClusterStatus{}, err
	}
	if st.Members, err = s.db.Members(); err != nil {
		return ClusterStatus{}, err
	}
	return st, nil
}
