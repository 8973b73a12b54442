// Package cluster starts a cluster of real etcd processes on loopback for
// the end-to-end tests of SPEC §14 (make test-etcd-e2e): the `etcd` on
// PATH, Debian's etcd-server (make deps-etcd), each member in a process
// group of its own so that a test can SIGKILL one mid-load and clean up
// every one of them however it ends. The store's e2e and the replicas'
// e2e (tenant/cli) share it. It is for tests only, and Unix only (process
// groups, signals); etcdtest starts embedded members instead.
package cluster
