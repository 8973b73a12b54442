// Package etcdtest starts embedded etcd members for tests (SPEC §14): a
// real etcd server in the test process, on loopback, in a temporary
// directory. Only tests import it, so the server stays out of the binary.
package etcdtest

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.uber.org/zap"
)

var shared struct {
	once     sync.Once
	endpoint string
	err      error
}

var stores atomic.Int64

// URL returns an etcd:// store URL with a prefix no other test uses, on
// one member shared by the whole test binary (started on first use, in
// 0.1–1 s), so that each test starts on an empty store.
func URL(t testing.TB) string {
	t.Helper()
	shared.once.Do(func() {
		// The member lives as long as the test binary, which has no hook
		// at its end: its directory is named by the pid, and the next
		// shared member removes those of binaries that have exited.
		removeStale()
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("%s%d", sharedDirPrefix, os.Getpid()))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			shared.err = err
			return
		}
		var m *Member
		m, shared.err = start(dir, true)
		if shared.err == nil {
			shared.endpoint = m.Endpoint
		}
	})
	if shared.err != nil {
		t.Fatalf("embedded etcd: %v", shared.err)
	}
	return fmt.Sprintf("etcd://%s/test-%d-%d", shared.endpoint, os.Getpid(), stores.Add(1))
}

const sharedDirPrefix = "tenantdesk-etcd-"

// removeStale deletes the shared members' directories of test binaries
// that are no longer running.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), sharedDirPrefix+"*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), sharedDirPrefix))
		if err != nil || pid <= 0 {
			continue
		}
		if !alive(pid) {
			_ = os.RemoveAll(d)
		}
	}
}

// alive reports whether process pid runs (on Windows: whether it can be
// found, since signal 0 is not supported there).
func alive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	if runtime.GOOS == "windows" {
		return true
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

// smallSegments makes each member's write-ahead log segments 4 MB instead
// of 64 MB (preallocated on disk): a test's member writes little.
var smallSegments sync.Once

// Member is one running embedded etcd member.
type Member struct {
	Endpoint string // HOST:PORT of its client listener
	Dir      string // its data directory: its database and write-ahead log
	e        *embed.Etcd
	closed   sync.Once
}

// Close stops the member. A test may stop it early (etcd gone) before
// Start's cleanup calls Close again, which then does nothing.
func (m *Member) Close() { m.closed.Do(m.e.Close) }

// Start starts a member of its own in a temporary directory, stopped when
// the test ends. It syncs its log as a production member does (the shared
// member of URL does not), for benchmarks of durable writes.
func Start(t testing.TB) *Member {
	t.Helper()
	m, err := start(t.TempDir(), false)
	if err != nil {
		t.Fatalf("embedded etcd: %v", err)
	}
	t.Cleanup(m.Close)
	return m
}

func start(dir string, noFsync bool) (*Member, error) {
	smallSegments.Do(func() { wal.SegmentSizeBytes = 4 << 20 })
	client, peer, err := freePort(), freePort(), error(nil)
	cfg := embed.NewConfig()
	cfg.Name = "tenantdesk-test"
	cfg.Dir = dir
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cu, _ := url.Parse("http://" + client)
	pu, _ := url.Parse("http://" + peer)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = noFsync // a test's member dies with the test
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(20 * time.Second):
		e.Close()
		return nil, fmt.Errorf("member not ready after 20 s")
	}
	return &Member{Endpoint: client, Dir: dir, e: e}, nil
}

// freePort is a loopback address nothing listens on right now.
func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}
