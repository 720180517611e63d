package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/amojwt/amojwt/verifier"
)

var keygenOutput = regexp.MustCompile(`^key:    (user:(\d+):(\d+))\nsecret: ([0-9a-f]{64})\n`)

func TestKeygen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantKey string // regexp of the key
	}{
		{"random", nil, `^user:[1-9]\d{0,7}:\d{1,3}$`},
		{"user id", []string{"--user-id", "543210"}, `^user:543210:\d{1,3}$`},
		{"user id and number", []string{"--user-id", "7", "--key-number", "0"}, `^user:7:0$`},
		{"number 999", []string{"--key-number", "999"}, `^user:\d+:999$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err, stdout, _ := runCommand(t, append([]string{"keygen"}, tt.args...)...)
			m := keygenOutput.FindStringSubmatch(stdout)
			if err != nil || m == nil || !regexp.MustCompile(tt.wantKey).MatchString(m[1]) {
				t.Fatalf("keygen %v: %v %q", tt.args, err, stdout)
			}
			if _, ok := verifier.ParseIssuerUserID(m[1]); !ok {
				t.Errorf("%s is not an AMO-style key", m[1])
			}
		})
	}
	// Secrets come from crypto/rand: two runs never share one.
	_, a, _ := runCommand(t, "keygen")
	_, b, _ := runCommand(t, "keygen")
	if keygenOutput.FindStringSubmatch(a)[4] == keygenOutput.FindStringSubmatch(b)[4] {
		t.Error("two keygen runs printed the same secret")
	}
}

func TestKeygenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"negative user id", []string{"keygen", "--user-id", "-1"}, "--user-id must be positive"},
		{"number too large", []string{"keygen", "--key-number", "1000"}, "--key-number must be 0 to 999"},
		{"argument", []string{"keygen", "x"}, `unexpected argument "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err, _, _ := runCommand(t, tt.args...)
			var out bytes.Buffer
			if code := exitCode(err, &out); code != 2 || !strings.Contains(out.String(), tt.want) {
				t.Errorf("exit %d %q, want 2 and %q", code, out.String(), tt.want)
			}
		})
	}
}

// TestKeygenKeysFile appends keys to a keys file: created when missing, its
// layout and other entries kept, the result loadable, a duplicate refused
// and a broken file left alone.
func TestKeygenKeysFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.json")

	// Created when missing, with mode 0600.
	err, stdout, _ := runCommand(t, "keygen", "--user-id", "1", "--key-number", "1", "--keys", path)
	m := keygenOutput.FindStringSubmatch(stdout)
	if err != nil || m == nil || m[1] != "user:1:1" {
		t.Fatalf("keygen: %v %q", err, stdout)
	}
	kf, err := verifier.LoadKeysFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := kf.Lookup(context.Background(), "user:1:1"); err != nil || string(k.Secret) != m[4] {
		t.Errorf("the new file lacks the key: %v", err)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("mode of a new keys file: %v %v", info.Mode(), err)
	}

	// Appended to a hand-written file, whose text stays as it was.
	handWritten := `{
    "keys": [
        {"key": "user:543210:23", "secret": "` + demoSecret + `",
         "user": {"id": 543210, "username": "demo", "read_dev_agreement": "2024-01-01T00:00:00Z"}}
    ]
}
`
	if err := os.WriteFile(path, []byte(handWritten), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if err, _, _ := runCommand(t, "keygen", "--user-id", "2", "--key-number", "5", "--keys", path); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cut := strings.Index(handWritten, "}}") + 2
	if !strings.HasPrefix(string(got), handWritten[:cut]+",\n  {\"key\":\"user:2:5\",\"secret\":\"") ||
		!strings.HasSuffix(string(got), "\"}"+handWritten[cut:]) {
		t.Errorf("layout not kept:\n%s", got)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o640 {
		t.Errorf("mode not kept: %v %v", info.Mode(), err)
	}
	if err := kf.Reload(); err != nil || kf.Len() != 2 {
		t.Errorf("after the append: %v, %d keys", err, kf.Len())
	}

	// Into an empty array.
	empty := filepath.Join(dir, "empty.json")
	if err := os.WriteFile(empty, []byte(`{"keys": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err, _, _ := runCommand(t, "keygen", "--keys", empty); err != nil {
		t.Fatal(err)
	}
	if k, err := verifier.LoadKeysFile(empty); err != nil || k.Len() != 1 {
		t.Errorf("append to an empty array: %v", err)
	}

	// Refusals leave the file as it was, and leave no temporary file.
	before, _ := os.ReadFile(path)
	broken := filepath.Join(dir, "broken.json")
	if err := os.WriteFile(broken, []byte(`{"keys": [{"key": "user:1:1", "secrte": "x"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	refusals := []struct {
		name, file string
		args       []string
		want       string
	}{
		{"duplicate", path, []string{"--user-id", "2", "--key-number", "5"}, "key user:2:5 is already in the file"},
		{"broken file", broken, nil, `not changed: verifier: keys file: json: unknown field "secrte"`},
	}
	for _, r := range refusals {
		err, _, _ := runCommand(t, append(append([]string{"keygen"}, r.args...), "--keys", r.file)...)
		if err == nil || !strings.Contains(err.Error(), r.want) {
			t.Errorf("%s: error %v, want %q", r.name, err, r.want)
		}
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("a refused append changed the file")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}
