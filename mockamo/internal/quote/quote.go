// Package quote bounds what the mock AMO repeats of a client's input in
// the messages it answers and keeps: an archive entry name, a manifest
// key, an upload id. A message is stored with its upload for as long as
// the state lives, so quoting input whole would let a small upload (a
// compressed manifest repeating a long key) grow the state by the size
// of what it decompresses to.
package quote

// MaxRunes is how many characters of an input Input keeps.
const MaxRunes = 100

// ellipsis marks an input Input cut short.
const ellipsis = "…"

// Input returns s whole when it has at most MaxRunes characters, else
// its first MaxRunes characters followed by "…". It never splits a UTF-8
// sequence; invalid bytes count as one character each (the JSON encoder
// writes them as U+FFFD).
func Input(s string) string {
	if len(s) <= MaxRunes {
		return s
	}
	n := 0
	for i := range s {
		if n == MaxRunes {
			return s[:i] + ellipsis
		}
		n++
	}
	return s
}
