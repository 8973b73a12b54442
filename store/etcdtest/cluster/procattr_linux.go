package cluster

import "syscall"

// ProcAttr puts a child in a process group of its own (so that a kill
// reaches whatever it starts) and, on Linux, has the kernel SIGKILL it if
// the test binary dies first (a test timeout's panic runs no cleanup).
func ProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
