//go:build !linux

package integration

import "syscall"

// sysProcAttr is empty: only Linux offers a parent-death signal, so
// elsewhere the server outlives a test binary that dies before its cleanup.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
