package noncestore

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/google/renameio/v2"
)

// ErrCorruptState is wrapped by the error NewMemory returns for a state
// file (WithStateFile) that is not one Close wrote: truncated, altered,
// from another program, or holding more live nonces than the store's
// capacity. The file is left in place. Such a file cannot tell which
// nonces were used; a caller that starts anyway must treat it as a crash:
// move the file aside and start a store whose reset guard refuses the
// tokens that could have been used before (which NewMemory with the same
// options then does, finding no file).
var ErrCorruptState = errors.New("noncestore: corrupt memory store state file")

// WithStateFile keeps the store's nonces in the file at path across
// restarts of the process, so that a restart opens no replay window
// (SPEC §5). Close writes the live nonces there, with the store's hash
// key and epoch; NewMemory reads them back and removes the file, so that
// a process that stops without Close (a crash, SIGKILL, a power loss) is
// not mistaken at the next start for one that stopped cleanly.
//
// NewMemory with a state file:
//
//   - finds the file: the store holds the nonces in it that have not
//     expired, and keeps its epoch (the zero time if the guard was off);
//   - finds no file (a first start, or a stop without Close): it cannot
//     know which nonces were used, so the store starts a new epoch (its
//     creation time) and the reset guard is on, whatever WithResetGuard
//     says: a jti-bearing token that could have been used before is
//     refused, for about the leeway and a second (SPEC §5);
//   - finds a file it cannot trust: an error wrapping ErrCorruptState.
//
// The file holds 24 bytes per live nonce and 96 more, at most the
// capacity's worth (24 MB at the default capacity), and is written to a
// temporary file in the same directory, synced, then renamed over path,
// so a crash during Close leaves no file or the whole one. It is created
// with mode 0600: the hash key in it lets whoever reads it choose nonces
// that collide in one shard. The directory must exist.
func WithStateFile(path string) MemoryOption {
	return func(c *memConfig) { c.stateFile = path }
}

// Close stops the store: every later Claim and Ping returns an error
// wrapping ErrUnavailable, so that no nonce is accepted that the saved
// state would not hold. With a state file (WithStateFile), it then writes
// the live nonces to it and returns the error of that write, if any. Call
// it once the requests in flight are done (after http.Server.Shutdown);
// later calls do nothing and return nil.
func (m *Memory) Close() error {
	if !m.closed.CompareAndSwap(false, true) {
		return nil
	}
	// A claim that read closed as false holds its shard's lock: taking
	// each lock once waits for those, and no claim changes a table after.
	for i := range m.shards {
		m.shards[i].mu.Lock()
		m.shards[i].mu.Unlock()
	}
	if m.stateFile == "" {
		return nil
	}
	if err := m.save(); err != nil {
		return fmt.Errorf("noncestore: saving the memory store to %s: %w", m.stateFile, err)
	}
	return nil
}

// The state file's layout, all integers little-endian:
//
//	magic    [8]byte  "AMOJWTNS"
//	version  uint32   1
//	reserved uint32   0
//	key      [16]byte the SipHash key, k0 then k1
//	epoch    int64    Unix nanoseconds; 0 for the zero time
//	entries  n x {hash [16]byte, expiry int64 (Unix seconds: the first
//	         second at which the nonce may be forgotten)}
//	n        uint64
//	sum      [32]byte SHA-256 of every byte before it
const (
	stateMagic   = "AMOJWTNS"
	stateVersion = 1
	stateHeader  = 8 + 4 + 4 + 16 + 8
	stateEntry   = 16 + 8
	stateTrailer = 8 + sha256.Size
)

// save writes the live nonces to m.stateFile. The tables no longer change
// (see Close); each shard's lock is still taken, for the memory model.
func (m *Memory) save() (err error) {
	f, err := renameio.NewPendingFile(m.stateFile,
		renameio.WithTempDir(filepath.Dir(m.stateFile)), renameio.WithStaticPermissions(0o600))
	if err != nil {
		return err
	}
	defer func() { _ = f.Cleanup() }() // a no-op once replaced
	sum := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, sum), 64<<10)
	var b [stateHeader]byte
	h := append(b[:0], stateMagic...)
	h = binary.LittleEndian.AppendUint32(h, stateVersion)
	h = binary.LittleEndian.AppendUint32(h, 0)
	h = binary.LittleEndian.AppendUint64(h, m.k0)
	h = binary.LittleEndian.AppendUint64(h, m.k1)
	var epoch int64
	if !m.epoch.IsZero() {
		epoch = m.epoch.UnixNano()
	}
	h = binary.LittleEndian.AppendUint64(h, uint64(epoch))
	_, _ = w.Write(h) // a bufio.Writer keeps its first error for Flush
	now := m.tick(m.clock())
	var n uint64
	var e [stateEntry]byte
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		for _, slot := range s.slots {
			if slot.exp > now {
				copy(e[:16], slot.key[:])
				binary.LittleEndian.PutUint64(e[16:], uint64(m.base+int64(slot.exp)))
				_, _ = w.Write(e[:])
				n++
			}
		}
		s.mu.Unlock()
	}
	_, _ = w.Write(binary.LittleEndian.AppendUint64(nil, n))
	if err := w.Flush(); err != nil {
		return err
	}
	if _, err := f.Write(sum.Sum(nil)); err != nil {
		return err
	}
	return f.CloseAtomicallyReplace()
}

// load reads m.stateFile into the new store m, made at now, and removes
// the file; with no file, it starts the reset guard's epoch (see
// WithStateFile).
func (m *Memory) load(now time.Time, capacity int) error {
	f, err := os.Open(m.stateFile)
	if errors.Is(err, os.ErrNotExist) {
		m.epoch = now.Round(0)
		return nil
	}
	if err != nil {
		return fmt.Errorf("noncestore: memory store state file: %w", err)
	}
	defer f.Close()
	if err := m.read(f, now, capacity); err != nil {
		return fmt.Errorf("%w %s: %w", ErrCorruptState, m.stateFile, err)
	}
	// Read: from now on, a stop without Close must find no file.
	if err := os.Remove(m.stateFile); err != nil {
		return fmt.Errorf("noncestore: removing the memory store state file once read: %w", err)
	}
	if d, err := os.Open(filepath.Dir(m.stateFile)); err == nil {
		// The removal is made; syncing the directory makes it durable, so
		// that a power loss does not bring the file back.
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// read checks and loads a state file's contents into m.
func (m *Memory) read(f *os.File, now time.Time, capacity int) error {
	info, err := f.Stat()
	if err != nil {
		return err
	}
	size := info.Size()
	body := size - stateHeader - stateTrailer
	if body < 0 || body%stateEntry != 0 {
		return fmt.Errorf("%d bytes: not the size of a state file", size)
	}
	if n := body / stateEntry; n > int64(capacity) {
		return fmt.Errorf("%d live nonces, more than the capacity of %d", n, capacity)
	}
	r := &stateReader{r: bufio.NewReaderSize(f, 64<<10), sum: sha256.New()}
	h := r.next(stateHeader)
	switch {
	case r.err != nil:
		return r.err
	case string(h[:8]) != stateMagic:
		return errors.New("not a memory store state file")
	case binary.LittleEndian.Uint32(h[8:]) != stateVersion:
		return fmt.Errorf("version %d, want %d", binary.LittleEndian.Uint32(h[8:]), stateVersion)
	}
	m.k0, m.k1 = binary.LittleEndian.Uint64(h[16:]), binary.LittleEndian.Uint64(h[24:])
	if epoch := int64(binary.LittleEndian.Uint64(h[32:])); epoch != 0 {
		m.epoch = time.Unix(0, epoch)
	}
	tick := m.tick(now)
	for range body / stateEntry {
		e := r.next(stateEntry)
		if r.err != nil {
			return r.err
		}
		expiry := int64(binary.LittleEndian.Uint64(e[16:]))
		if expiry-m.base <= int64(tick) {
			continue // expired since it was saved
		}
		exp := uint32(min(expiry-m.base, math.MaxUint32))
		switch err := m.claimKey(memKey(e[:16]), tick, exp); {
		case errors.Is(err, ErrReplayed):
			return errors.New("a nonce is saved twice")
		case err != nil:
			return err
		}
	}
	n := r.next(8)
	if r.err != nil {
		return r.err
	}
	if got, want := binary.LittleEndian.Uint64(n), uint64(body/stateEntry); got != want {
		return fmt.Errorf("the trailer counts %d nonces, the size %d", got, want)
	}
	want := r.sum.Sum(nil)
	r.sum = nil // the checksum is not part of what it sums
	got := r.next(sha256.Size)
	if r.err != nil {
		return r.err
	}
	if string(got) != string(want) {
		return errors.New("checksum mismatch")
	}
	return nil
}

// stateReader reads fixed-size records, adding them to sum (when not nil)
// and keeping the first error.
type stateReader struct {
	r   *bufio.Reader
	sum hash.Hash
	buf [stateHeader]byte
	err error
}

// next returns the next n bytes (n <= stateHeader), valid until the next
// call, or garbage once r.err is set.
func (r *stateReader) next(n int) []byte {
	if r.err == nil {
		if _, err := io.ReadFull(r.r, r.buf[:n]); err != nil {
			r.err = fmt.Errorf("reading: %w", err)
		} else if r.sum != nil {
			r.sum.Write(r.buf[:n])
		}
	}
	return r.buf[:n]
}
