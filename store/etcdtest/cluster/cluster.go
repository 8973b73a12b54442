//go:build unix

package cluster

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Member is one etcd process of a Cluster.
type Member struct {
	Name   string // m1, m2, …: etcd's --name, and the name etcd's member list gives
	Client string // HOST:PORT of its client listener
	Peer   string // HOST:PORT of its peer listener
	cmd    *exec.Cmd
	exited chan struct{} // closed once its process has been reaped
}

// Cluster is a running etcd cluster of real processes.
type Cluster struct {
	Members []*Member
}

// readyWithin bounds the wait for every member to report itself healthy
// (about 2 s here for three members).
const readyWithin = 30 * time.Second

// Start starts an n-member cluster in t's temporary directory and waits
// until every member is healthy; every member is SIGKILLed (with its
// process group) when t ends. It skips t when no etcd is on PATH.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("no etcd on PATH (make deps-etcd installs Debian's etcd-server)")
	}
	c := &Cluster{}
	var initial []string
	for i := range n {
		m := &Member{Name: fmt.Sprintf("m%d", i+1), Client: FreeAddr(t), Peer: FreeAddr(t), exited: make(chan struct{})}
		c.Members = append(c.Members, m)
		initial = append(initial, m.Name+"=http://"+m.Peer)
	}
	dir := dataDir(t)
	for _, m := range c.Members {
		m.cmd = exec.Command(bin, "--name", m.Name, "--data-dir", filepath.Join(dir, m.Name),
			"--listen-client-urls", "http://"+m.Client, "--advertise-client-urls", "http://"+m.Client,
			"--listen-peer-urls", "http://"+m.Peer, "--initial-advertise-peer-urls", "http://"+m.Peer,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "tenantdesk-e2e")
		log, err := os.Create(filepath.Join(dir, m.Name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		m.cmd.Stdout, m.cmd.Stderr = log, log
		m.cmd.SysProcAttr = ProcAttr()
		if err := m.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			_ = m.cmd.Wait()
			log.Close()
			close(m.exited)
		}()
		t.Cleanup(func() {
			_ = m.Kill()
			<-m.exited
		})
	}
	deadline := time.Now().Add(readyWithin)
	for _, m := range c.Members {
		for !m.healthy() {
			if time.Now().After(deadline) {
				t.Fatalf("etcd member %s not healthy after %s (its log: %s)", m.Name, readyWithin, filepath.Join(dir, m.Name+".log"))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return c
}

// dirPrefix names the members' directories: their write-ahead logs are
// preallocated (64 MB a segment, two a member), and a test binary killed
// by its -timeout runs no cleanup, so the next Start removes what such a
// binary left (its pid is in the name).
const dirPrefix = "tenantdesk-etcd-cluster-"

// dataDir is a new directory for the members, removed when t ends, after
// the members (cleanups run last-in first-out).
func dataDir(t testing.TB) string {
	t.Helper()
	stale, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, d := range stale {
		pid, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(filepath.Base(d), dirPrefix), "-", 2)[0])
		if err == nil && pid != os.Getpid() && syscall.Kill(pid, 0) == syscall.ESRCH {
			_ = os.RemoveAll(d)
		}
	}
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", dirPrefix, os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// URL is the store URL of the cluster under prefix: etcd://HOST:PORT,…/prefix.
func (c *Cluster) URL(prefix string) string {
	var eps []string
	for _, m := range c.Members {
		eps = append(eps, m.Client)
	}
	return "etcd://" + strings.Join(eps, ",") + "/" + prefix
}

// Member is the member named name (as etcd's member list names it), or nil.
func (c *Cluster) Member(name string) *Member {
	for _, m := range c.Members {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Kill SIGKILLs the member's process group: it dies without a word, as
// when its machine loses power.
func (m *Member) Kill() error {
	select {
	case <-m.exited:
		return nil
	default:
	}
	return syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
}

// healthy asks the member's /health endpoint, which answers true once the
// member has a leader.
func (m *Member) healthy() bool {
	hc := http.Client{Timeout: time.Second}
	resp, err := hc.Get("http://" + m.Client + "/health")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	return resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"health":"true"`)
}

// FreeAddr is a loopback HOST:PORT that nothing listens on right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
