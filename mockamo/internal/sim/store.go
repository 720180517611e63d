package sim

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// store keeps the records and the files (blobs) of a State: in memory,
// or in a data directory. Records are keyed "uploads/<uuid>" and
// "addons/<id>", blobs "uploads/<uuid>" and "sources/<name>".
type store interface {
	// putRecord replaces the record at key with data, atomically.
	putRecord(key string, data []byte) error
	putBlob(key string, data []byte) error
	openBlob(key string) (io.ReadSeekCloser, error)
	// deleteBlob removes a blob; a missing blob is no error.
	deleteBlob(key string) error
}

// Blob keys.
func uploadBlob(uuid string) string { return "uploads/" + uuid }
func sourceBlob(name string) string { return "sources/" + name }

// memoryStore keeps blobs in memory and records nowhere: the State's
// maps are the records.
type memoryStore struct {
	mu    sync.Mutex
	blobs map[string][]byte
}

func newMemoryStore() *memoryStore { return &memoryStore{blobs: map[string][]byte{}} }

func (*memoryStore) putRecord(string, []byte) error { return nil }

func (m *memoryStore) putBlob(key string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.blobs[key] = data
	return nil
}

func (m *memoryStore) openBlob(key string) (io.ReadSeekCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	data, ok := m.blobs[key]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return nopCloser{bytes.NewReader(data)}, nil
}

func (m *memoryStore) deleteBlob(key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.blobs, key)
	return nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// diskStore keeps records and blobs under a data directory, one file per
// record and per blob, each written atomically (see writeFileAtomic):
//
//	dir/state/format.json       the layout's version
//	dir/state/uploads/<uuid>.json
//	dir/state/addons/<id>.json
//	dir/uploads/<uuid>          the uploaded files
//	dir/sources/<name>          the source archives
//
// A change rewrites the one record it changes, so its cost does not grow
// with the state, and a crash leaves every record either before or after
// the change.
type diskStore struct{ dir string }

// Subdirectories of the data directory.
const (
	stateDir       = "state"
	uploadsDir     = "uploads"
	sourcesDir     = "sources"
	recordSuffix   = ".json"
	tempFilePrefix = ".tmp-"
)

func (d diskStore) recordPath(key string) string {
	return filepath.Join(d.dir, stateDir, filepath.FromSlash(key)+recordSuffix)
}

func (d diskStore) blobPath(key string) string {
	return filepath.Join(d.dir, filepath.FromSlash(key))
}

func (d diskStore) putRecord(key string, data []byte) error {
	return writeFileAtomic(d.recordPath(key), data)
}

func (d diskStore) putBlob(key string, data []byte) error {
	return writeFileAtomic(d.blobPath(key), data)
}

func (d diskStore) openBlob(key string) (io.ReadSeekCloser, error) {
	return os.Open(d.blobPath(key))
}

func (d diskStore) deleteBlob(key string) error {
	if err := os.Remove(d.blobPath(key)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory is written and synced, then renamed over path, then the
// directory is synced, so that readers and a crash see either the old
// file or the new, never a part.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tempFilePrefix+"*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	// The rename is the change; syncing the directory only makes it
	// durable sooner, and reporting its failure would undo a change that
	// is already visible.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
