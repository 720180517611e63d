package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/amojwt/amojwt/verifier"
)

// Ranges of the parts of a generated key user:<id>:<n> (SPEC §1).
const (
	maxKeyNumber = 999
	maxUserID    = 99_999_999 // a random id has at most 8 digits
)

// keygenConfig is the configuration of `amojwt keygen`.
type keygenConfig struct {
	userID    int64 // 0: random
	keyNumber int   // -1: random
	keysFile  string
}

// newKeygenCommand returns the keygen command, which calls exec with its
// configuration once the flags are parsed.
func newKeygenCommand(exec func(context.Context, *keygenConfig) error) *ffcli.Command {
	c := keygenConfig{keyNumber: -1}
	fs := newFlagSet("keygen")
	fs.Int64Var(&c.userID, "user-id", 0, "user id of the key (user:<id>:<n>); default: random")
	fs.IntVar(&c.keyNumber, "key-number", -1, "the n of user:<id>:<n>, 0 to 999; default: random")
	fs.StringVar(&c.keysFile, "keys", "", "append the key to this keys file (created if missing; a key already in it is refused)")
	return &ffcli.Command{
		Name:       "keygen",
		ShortUsage: "amojwt keygen [--user-id N] [--key-number N] [--keys FILE]",
		ShortHelp:  "make an API key and secret in AMO's format, optionally added to a keys file",
		LongHelp: "Prints a new API key user:<id>:<n> and its secret, 64 lowercase hex characters\n" +
			"from crypto/rand, as addons.mozilla.org issues them. With --keys, the key is also\n" +
			"appended to the keys file, written in full to a temporary file and renamed over\n" +
			"the old one: a running `amojwt serve --keys FILE` picks it up at once.",
		FlagSet:   fs,
		Options:   parseOptions,
		UsageFunc: usage,
		Exec: func(ctx context.Context, args []string) error {
			if err := noArgs("keygen", args); err != nil {
				return err
			}
			return exec(ctx, &c)
		},
	}
}

// runKeygen makes a key, appends it to c.keysFile when set, and prints it
// to w.
func runKeygen(c *keygenConfig, w io.Writer) error {
	issuer, secret, err := c.generate()
	if err != nil {
		return err
	}
	if c.keysFile != "" {
		if err := appendKey(c.keysFile, issuer, secret); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "key:    %s\nsecret: %s\n", issuer, secret)
	if c.keysFile != "" {
		fmt.Fprintf(w, "added to %s\n", c.keysFile)
	}
	return nil
}

// generate returns a new issuer user:<id>:<n> and a secret of 32 random
// bytes in lowercase hex.
func (c *keygenConfig) generate() (issuer, secret string, err error) {
	switch {
	case c.userID < 0:
		return "", "", usageError{"keygen: --user-id must be positive"}
	case c.keyNumber < -1 || c.keyNumber > maxKeyNumber:
		return "", "", usageError{fmt.Sprintf("keygen: --key-number must be 0 to %d", maxKeyNumber)}
	}
	id, n := c.userID, int64(c.keyNumber)
	if id == 0 {
		if id, err = randomInt(maxUserID); err != nil {
			return "", "", err
		}
		id++ // 1 .. maxUserID
	}
	if n < 0 {
		if n, err = randomInt(maxKeyNumber + 1); err != nil {
			return "", "", err
		}
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("keygen: %w", err)
	}
	return fmt.Sprintf("user:%d:%d", id, n), hex.EncodeToString(b[:]), nil
}

// randomInt returns a uniform random integer in [0, max).
func randomInt(max int64) (int64, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(max))
	if err != nil {
		return 0, fmt.Errorf("keygen: %w", err)
	}
	return n.Int64(), nil
}

// appendKey adds {"key": issuer, "secret": secret} to the keys file at
// path, creating it if missing. The file is read and checked with
// verifier.ParseKeys first (a broken file is left alone), the entry is
// inserted as text after the last one, so the rest of the file keeps its
// layout, the result is parsed again, then written to a temporary file in
// the same directory and renamed over path: readers see the old file or the
// new one, never a part. An issuer already in the file is an error.
// Concurrent appends to one file are not serialized: the last rename wins.
func appendKey(path, issuer, secret string) error {
	old, err := os.ReadFile(path)
	mode := fs.FileMode(0o600)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		old = nil
	case err != nil:
		return fmt.Errorf("keygen: --keys: %w", err)
	default:
		if info, err := os.Stat(path); err == nil {
			mode = info.Mode().Perm()
		}
	}
	updated, err := insertKey(old, issuer, secret)
	if err != nil {
		return fmt.Errorf("keygen: --keys %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("keygen: --keys: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, there is nothing to remove
	if _, err := tmp.Write(updated); err != nil {
		tmp.Close()
		return fmt.Errorf("keygen: --keys: %w", err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("keygen: --keys: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("keygen: --keys: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("keygen: --keys: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("keygen: --keys: %w", err)
	}
	return nil
}

// insertKey returns the keys file data with a new entry for issuer after
// the last one; data nil makes a new file.
func insertKey(data []byte, issuer, secret string) ([]byte, error) {
	entry, err := json.Marshal(struct {
		Key    string `json:"key"`
		Secret string `json:"secret"`
	}{issuer, secret})
	if err != nil {
		return nil, err
	}
	if data == nil {
		return fmt.Appendf(nil, "{\"keys\": [\n  %s\n]}\n", entry), nil
	}
	keys, err := verifier.ParseKeys(data)
	if err != nil {
		return nil, fmt.Errorf("not changed: %w", err)
	}
	if _, err := keys.Lookup(context.Background(), issuer); err == nil {
		return nil, fmt.Errorf("key %s is already in the file", issuer)
	}
	at, first, err := keysArrayEnd(data)
	if err != nil {
		return nil, err
	}
	var insert []byte
	if first {
		insert = fmt.Appendf(nil, "\n  %s\n", entry)
	} else {
		insert = fmt.Appendf(nil, ",\n  %s", entry)
	}
	updated := append(append(append([]byte(nil), data[:at]...), insert...), data[at:]...)
	check, err := verifier.ParseKeys(updated)
	if err != nil || check.Len() != keys.Len()+1 {
		// Cannot happen for a file ParseKeys accepted; never write a file
		// that does not load.
		return nil, fmt.Errorf("inserting the key would break the file (%v)", err)
	}
	return updated, nil
}

// keysArrayEnd returns the offset in data just after the last element of
// the top-level "keys" array (just after "[" when it is empty, then first is
// true).
func keysArrayEnd(data []byte) (at int, first bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return 0, false, errors.New("not a JSON object")
	}
	for dec.More() {
		name, err := dec.Token()
		if err != nil {
			return 0, false, err
		}
		if name != "keys" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return 0, false, err
			}
			continue
		}
		if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
			return 0, false, errors.New(`"keys" is not an array`)
		}
		at, first = int(dec.InputOffset()), true
		for dec.More() {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return 0, false, err
			}
			at, first = int(dec.InputOffset()), false
		}
		return at, first, nil
	}
	return 0, false, errors.New(`no "keys" array`)
}
