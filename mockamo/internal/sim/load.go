package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// stateFormat is the version of the data directory's layout, kept in
// dir/state/format.json.
const stateFormat = 2

// formatFile is the JSON of dir/state/format.json.
type formatFile struct {
	Format int `json:"format"`
}

// load prepares the data directory (creating what is missing, with mode
// 0700) and reads its records. An error about the records wraps
// ErrInvalidState.
func (d diskStore) load() ([]*Upload, []*Addon, error) {
	for _, sub := range []string{"", uploadsDir, sourcesDir, stateDir,
		filepath.Join(stateDir, "uploads"), filepath.Join(stateDir, "addons")} {
		if err := os.MkdirAll(filepath.Join(d.dir, sub), 0o700); err != nil {
			return nil, nil, fmt.Errorf("mockamo: data directory: %w", err)
		}
	}
	if _, err := os.Stat(filepath.Join(d.dir, "state.json")); err == nil {
		return nil, nil, fmt.Errorf("%w %s: state.json is a layout this version does not read; start with an empty directory",
			ErrInvalidState, d.dir)
	}
	uploads, err := readRecords(filepath.Join(d.dir, stateDir, "uploads"), checkUpload)
	if err != nil {
		return nil, nil, err
	}
	addons, err := readRecords(filepath.Join(d.dir, stateDir, "addons"), checkAddon)
	if err != nil {
		return nil, nil, err
	}
	if err := d.checkFormat(len(uploads) + len(addons)); err != nil {
		return nil, nil, err
	}
	return uploads, addons, nil
}

// checkFormat reads dir/state/format.json, or writes it in a directory
// without records (which also proves the directory writable).
func (d diskStore) checkFormat(records int) error {
	path := filepath.Join(d.dir, stateDir, "format.json")
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && records == 0:
		data, _ := json.Marshal(formatFile{Format: stateFormat})
		if err := writeFileAtomic(path, data); err != nil {
			return fmt.Errorf("mockamo: data directory: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("%w %s: %v", ErrInvalidState, d.dir, err)
	}
	var f formatFile
	if err := decodeStrict(raw, &f); err != nil || f.Format != stateFormat {
		return fmt.Errorf("%w %s: format.json: want {\"format\":%d}", ErrInvalidState, path, stateFormat)
	}
	return nil
}

// readRecords decodes every record file of dir (name <key>.json) with
// check, removing the temporary files an interrupted write left.
func readRecords[T any](dir string, check func(key string, r *T) error) ([]*T, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("mockamo: data directory: %w", err)
	}
	var out []*T
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), tempFilePrefix) {
			if err := os.Remove(path); err != nil {
				return nil, fmt.Errorf("mockamo: data directory: %w", err)
			}
			continue
		}
		key, ok := strings.CutSuffix(e.Name(), recordSuffix)
		if !ok || !e.Type().IsRegular() {
			return nil, fmt.Errorf("%w %s: not a record", ErrInvalidState, path)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("mockamo: data directory: %w", err)
		}
		r := new(T)
		if err := decodeStrict(raw, r); err != nil {
			return nil, fmt.Errorf("%w %s: %v", ErrInvalidState, path, err)
		}
		if err := check(key, r); err != nil {
			return nil, fmt.Errorf("%w %s: %v", ErrInvalidState, path, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// decodeStrict decodes one JSON value into v, refusing unknown fields
// and data after the value.
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

// checkUpload checks an upload record stored under key.
func checkUpload(key string, u *Upload) error {
	if u.UUID != key || !isUUIDHex(key) || u.UserID <= 0 || u.Size < 0 {
		return errors.New("bad upload record")
	}
	return nil
}

// checkAddon checks an add-on record stored under key.
func checkAddon(key string, a *Addon) error {
	id, err := strconv.ParseInt(key, 10, 64)
	if err != nil || a.ID != id || a.ID <= 0 || a.GUID == "" || len(a.Authors) == 0 || a.owner() <= 0 {
		return errors.New("bad add-on record")
	}
	for _, v := range a.Versions {
		if v == nil || v.ID <= 0 || v.File.ID <= 0 || !isUUIDHex(v.File.UploadUUID) ||
			(v.Source != nil && (!isUUIDHex(v.Source.Blob) || v.Source.Size < 0)) {
			return fmt.Errorf("add-on %d: bad version record", a.ID)
		}
	}
	return nil
}

// removeUnreferenced removes the blobs no record refers to (a write
// interrupted between a file and its record) and temporary files.
func (d diskStore) removeUnreferenced(referenced map[string]bool) error {
	for _, sub := range []string{uploadsDir, sourcesDir} {
		entries, err := os.ReadDir(filepath.Join(d.dir, sub))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if referenced[sub+"/"+e.Name()] {
				continue
			}
			if err := os.Remove(filepath.Join(d.dir, sub, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
