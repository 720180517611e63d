package redistest

import "syscall"

// sysProcAttr puts the server in its own process group (so a group kill
// reaches anything it forks) and has the kernel kill it if the test binary
// dies before its cleanup runs.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
