//go:build !linux

package noncestore

import "time"

// threadCPUTime reports that this system's per-thread CPU clock is not
// read here: BenchmarkMemoryReclaimPause then reports wall time only.
func threadCPUTime() (time.Duration, bool) { return 0, false }
