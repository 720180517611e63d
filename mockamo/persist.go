package mockamo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// stateFile is the name of the state file in the data directory.
const stateFile = "state.json"

// Blob keys: uploads by uuid, sources by version id.
func uploadKey(uuid string) string     { return "uploads/" + uuid }
func sourceKey(versionID int64) string { return "sources/" + formatID(versionID) }

// blobStore keeps uploaded and source files by key.
type blobStore interface {
	put(key string, data []byte) error
	get(key string) ([]byte, error)
}

// memoryBlobs keeps files in memory.
type memoryBlobs struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMemoryBlobs() *memoryBlobs { return &memoryBlobs{m: map[string][]byte{}} }

func (b *memoryBlobs) put(key string, data []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[key] = data
	return nil
}

func (b *memoryBlobs) get(key string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.m[key]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return data, nil
}

// diskBlobs keeps files under a directory, each written atomically.
type diskBlobs struct{ dir string }

func (b diskBlobs) put(key string, data []byte) error {
	return writeFileAtomic(filepath.Join(b.dir, filepath.FromSlash(key)), data)
}

func (b diskBlobs) get(key string) ([]byte, error) {
	return os.ReadFile(filepath.Join(b.dir, filepath.FromSlash(key)))
}

// open prepares the data directory and loads its state file, or writes a
// fresh one (which also proves the directory is writable).
func (s *Submissions) open() error {
	for _, sub := range []string{"", "uploads", "sources"} {
		if err := os.MkdirAll(filepath.Join(s.dir, sub), 0o700); err != nil {
			return fmt.Errorf("mockamo: data directory: %w", err)
		}
	}
	s.blobs = diskBlobs{dir: s.dir}
	raw, err := os.ReadFile(filepath.Join(s.dir, stateFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.saved, _ = json.Marshal(s.st)
		if err := s.persist(); err != nil {
			return fmt.Errorf("mockamo: data directory: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("mockamo: data directory: %w", err)
	}
	st, err := decodeState(raw)
	if err != nil {
		return fmt.Errorf("%w %s: %v", ErrInvalidState, filepath.Join(s.dir, stateFile), err)
	}
	s.st, s.saved = st, raw
	return nil
}

// decodeState parses a state file strictly and checks that its records
// fit together.
func decodeState(raw []byte) (*state, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	st := &state{}
	if err := dec.Decode(st); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the JSON object")
	}
	if st.Format != stateFormat {
		return nil, fmt.Errorf("format %d, want %d", st.Format, stateFormat)
	}
	if st.Uploads == nil {
		st.Uploads = map[string]*upload{}
	}
	if st.Addons == nil {
		st.Addons = []*addon{}
	}
	for key, u := range st.Uploads {
		if u == nil || u.UUID != key || !isUUIDHex(key) {
			return nil, fmt.Errorf("upload %q: bad record", key)
		}
	}
	for _, a := range st.Addons {
		if a == nil || a.ID <= 0 || a.ID > st.LastAddonID || a.GUID == "" {
			return nil, errors.New("add-on: bad record")
		}
		for _, v := range a.Versions {
			if v == nil || v.ID <= 0 || v.ID > st.LastVersionID || v.File.ID <= 0 || v.File.ID > st.LastFileID ||
				!isUUIDHex(v.File.UploadUUID) {
				return nil, fmt.Errorf("add-on %d: bad version record", a.ID)
			}
		}
	}
	return st, nil
}

// persist writes the state file after a change, when there is a data
// directory. When the write fails the change is undone (the state is
// restored from the last file written) and the error returned.
func (s *Submissions) persist() error {
	if s.dir == "" {
		return nil
	}
	data, err := json.MarshalIndent(s.st, "", "  ")
	if err == nil {
		err = writeFileAtomic(filepath.Join(s.dir, stateFile), append(data, '\n'))
	}
	if err != nil {
		if st, derr := decodeState(s.saved); derr == nil {
			s.st = st
		}
		return err
	}
	s.saved = data
	return nil
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory is written and synced, then renamed over path, then the
// directory is synced, so that readers and a crash see either the old
// file or the new, never a part.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
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
