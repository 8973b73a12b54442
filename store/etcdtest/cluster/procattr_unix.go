//go:build unix && !linux

package cluster

import "syscall"

// ProcAttr puts a child in a process group of its own, so that a kill
// reaches whatever it starts.
func ProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
