package verifier

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
)

// MaxKeysFileBytes bounds the size of a keys file (16 MiB).
const MaxKeysFileBytes = 16 << 20

// keysFileJSON is the keys file format of docs/ARCHITECTURE.md ("Keys file").
type keysFileJSON struct {
	Keys []struct {
		Key    string `json:"key"`
		Secret string `json:"secret"`
		Active *bool  `json:"active"`
		User   *User  `json:"user"`
	} `json:"keys"`
}

// ParseKeys decodes a keys file:
//
//	{"keys": [{"key": "user:543210:23", "secret": "<64 hex>", "active": true,
//	           "user": {"id": 543210, "username": "demo", "name": "Demo User",
//	                    "email": "demo@example.com", "deleted": false,
//	                    "read_dev_agreement": "2024-01-01T00:00:00Z"}}]}
//
// "active" defaults to true; without "user" the user id is parsed from the
// key and SPEC §3 row 14 is skipped. Unknown fields, trailing data, a missing
// key, an empty secret, a duplicate key and a key without a user id (no
// "user" with an "id", and a key not of the form user:<id>:<n>) are errors:
// a typo must not silently disable a check, nor make keys share an
// identity. Errors name the key, never the secret.
func ParseKeys(data []byte) (*StaticKeys, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f keysFileJSON
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("verifier: keys file: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("verifier: keys file: trailing data after the JSON object")
	}
	if f.Keys == nil {
		return nil, errors.New(`verifier: keys file: no "keys" array`)
	}
	keys := make([]*Key, 0, len(f.Keys))
	for i, e := range f.Keys {
		if e.Key == "" {
			return nil, fmt.Errorf("verifier: keys file: entry %d has no \"key\"", i)
		}
		if e.Secret == "" {
			return nil, fmt.Errorf("verifier: keys file: key %q has an empty secret; refusing to load it", e.Key)
		}
		active := e.Active == nil || *e.Active
		keys = append(keys, &Key{Issuer: e.Key, Secret: Secret(e.Secret), Active: active, User: e.User})
	}
	return NewStaticKeys(keys...)
}

// KeysFile is a KeyStore backed by a keys file (see ParseKeys) that can be
// reloaded while in use. A reload is atomic: lookups see either the old keys
// or the new ones, and a file that fails to load keeps the old keys.
type KeysFile struct {
	path string
	keys atomic.Pointer[StaticKeys]
}

// LoadKeysFile reads and parses the keys file at path (at most
// MaxKeysFileBytes). It returns an error if the file cannot be read or
// parsed.
func LoadKeysFile(path string) (*KeysFile, error) {
	kf := &KeysFile{path: path}
	if err := kf.Reload(); err != nil {
		return nil, err
	}
	return kf, nil
}

// Reload reads the file again. On error the keys in use stay unchanged and
// the error says why.
func (kf *KeysFile) Reload() error {
	f, err := os.Open(kf.path)
	if err != nil {
		return fmt.Errorf("verifier: keys file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxKeysFileBytes+1))
	if err != nil {
		return fmt.Errorf("verifier: keys file %s: %w", kf.path, err)
	}
	if len(data) > MaxKeysFileBytes {
		return fmt.Errorf("verifier: keys file %s: larger than %d bytes", kf.path, MaxKeysFileBytes)
	}
	keys, err := ParseKeys(data)
	if err != nil {
		return fmt.Errorf("%w (file %s)", err, kf.path)
	}
	kf.keys.Store(keys)
	return nil
}

// Path is the file the keys are loaded from.
func (kf *KeysFile) Path() string { return kf.path }

// Len is the number of keys currently loaded.
func (kf *KeysFile) Len() int { return kf.keys.Load().Len() }

// Lookup returns the key for issuer from the keys loaded last, or
// ErrKeyNotFound.
func (kf *KeysFile) Lookup(ctx context.Context, issuer string) (*Key, error) {
	return kf.keys.Load().Lookup(ctx, issuer)
}
