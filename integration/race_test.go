//go:build race

package integration

// raceEnabled reports whether the race detector is on: it makes each
// request some ten times slower, so flood tests send fewer.
const raceEnabled = true
