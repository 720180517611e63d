//go:build unix && !linux

package redistest

import "syscall"

// sysProcAttr puts the server in its own process group, so a group kill
// reaches anything it forks. (Only Linux offers a parent-death signal.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
