//go:build linux

package noncestore

import (
	"syscall"
	"time"
	"unsafe"
)

// clockThreadCPUTimeID is CLOCK_THREAD_CPUTIME_ID of <linux/time.h>.
const clockThreadCPUTimeID = 3

// threadCPUTime returns the CPU time the calling thread has used, and
// whether the system could tell; a caller keeps to its thread with
// runtime.LockOSThread for the difference of two readings to be its own.
func threadCPUTime() (time.Duration, bool) {
	var ts syscall.Timespec
	// RawSyscall: the call never blocks, so the scheduler need not know,
	// and it costs the measurement less.
	_, _, errno := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
