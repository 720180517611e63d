package verifier_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/amojwt/amojwt/verifier"
)

func TestParseIssuerUserID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		issuer string
		id     int64
		ok     bool
	}{
		{name: "amo key", issuer: "user:543210:23", id: 543210, ok: true},
		{name: "n zero", issuer: "user:1:0", id: 1, ok: true},
		{name: "no n", issuer: "user:1", ok: false},
		{name: "empty n", issuer: "user:1:", ok: false},
		{name: "letters", issuer: "user:abc:1", ok: false},
		{name: "negative", issuer: "user:-1:1", ok: false},
		{name: "zero id", issuer: "user:0:1", ok: false},
		{name: "overflow", issuer: "user:99999999999999999999:1", ok: false},
		{name: "other prefix", issuer: "some-user-key", ok: false},
		{name: "extra part", issuer: "user:1:2:3", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, ok := verifier.ParseIssuerUserID(tt.issuer)
			if id != tt.id || ok != tt.ok {
				t.Errorf("ParseIssuerUserID(%q) = %d, %v; want %d, %v", tt.issuer, id, ok, tt.id, tt.ok)
			}
		})
	}
}

const secret64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		json    string
		wantErr string // a fragment of the error; "" for success
	}{
		{name: "minimal", json: `{"keys":[{"key":"user:1:1","secret":"` + secret64 + `"}]}`},
		{name: "full", json: `{"keys":[{"key":"user:1:1","secret":"s","active":false,"user":{"id":7,"username":"u","name":"N","email":"e@x","deleted":true,"read_dev_agreement":"2024-01-01T00:00:00Z","permissions":["A"]}}]}`},
		{name: "unknown field", json: `{"keys":[{"key":"user:1:1","secret":"s","activ":true}]}`, wantErr: "unknown field"},
		{name: "unknown user field", json: `{"keys":[{"key":"user:1:1","secret":"s","user":{"idd":1}}]}`, wantErr: "unknown field"},
		{name: "empty secret", json: `{"keys":[{"key":"user:1:1","secret":""}]}`, wantErr: "empty secret"},
		{name: "missing key", json: `{"keys":[{"secret":"s"}]}`, wantErr: "no \"key\""},
		{name: "duplicate", json: `{"keys":[{"key":"user:1:1","secret":"s"},{"key":"user:1:1","secret":"t"}]}`, wantErr: "twice"},
		{name: "user id from the user", json: `{"keys":[{"key":"some-user-key","secret":"s","user":{"id":77}}]}`},
		// Keys without a user id would all speak for user 0, as if they
		// were one account.
		{name: "no user id", json: `{"keys":[{"key":"some-user-key","secret":"` + secret64 + `"}]}`, wantErr: `key "some-user-key" has no user id`},
		{name: "user without an id", json: `{"keys":[{"key":"some-user-key","secret":"s","user":{"username":"u"}}]}`, wantErr: `key "some-user-key": its user has no id`},
		{name: "AMO key, user without an id", json: `{"keys":[{"key":"user:1:1","secret":"s","user":{"username":"u"}}]}`, wantErr: `key "user:1:1": its user has no id`},
		{name: "user id zero", json: `{"keys":[{"key":"user:0:1","secret":"s"}]}`, wantErr: `key "user:0:1" has no user id`},
		{name: "inactive key without a user id", json: `{"keys":[{"key":"k","secret":"s","active":false}]}`, wantErr: `key "k" has no user id`},
		{name: "no keys array", json: `{}`, wantErr: "no \"keys\""},
		{name: "trailing data", json: `{"keys":[]} {}`, wantErr: "trailing"},
		{name: "not json", json: `keys`, wantErr: "keys file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := verifier.ParseKeys([]byte(tt.json))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), secret64) {
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestKeysFileDefaultsAndReload(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.json")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"keys":[{"key":"user:5:1","secret":"` + secret64 + `"}]}`)
	kf, err := verifier.LoadKeysFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k, err := kf.Lookup(context.Background(), "user:5:1")
	if err != nil {
		t.Fatal(err)
	}
	if !k.Active || k.User != nil || k.UserID() != 5 || string(k.Secret) != secret64 {
		t.Fatalf("defaults: active=%v user=%v id=%d", k.Active, k.User, k.UserID())
	}

	// A broken file keeps the old keys.
	write(`{"keys":[{"key":"user:6:1","secret":""}]}`)
	if err := kf.Reload(); err == nil {
		t.Fatal("reload of a broken file succeeded")
	}
	if _, err := kf.Lookup(context.Background(), "user:5:1"); err != nil {
		t.Fatalf("old key lost after a failed reload: %v", err)
	}

	// So does a file whose key has no user id.
	write(`{"keys":[{"key":"shared-key","secret":"` + secret64 + `"}]}`)
	if err := kf.Reload(); err == nil || !strings.Contains(err.Error(), `"shared-key"`) || strings.Contains(err.Error(), secret64) {
		t.Fatalf("reload of a key without a user id: %v", err)
	}
	if _, err := kf.Lookup(context.Background(), "user:5:1"); err != nil {
		t.Fatalf("old key lost after a failed reload: %v", err)
	}

	write(`{"keys":[{"key":"user:6:1","secret":"x"}]}`)
	if err := kf.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := kf.Lookup(context.Background(), "user:5:1"); !errors.Is(err, verifier.ErrKeyNotFound) {
		t.Fatalf("removed key still found: %v", err)
	}
	if kf.Len() != 1 {
		t.Fatalf("Len = %d, want 1", kf.Len())
	}
}

func TestSecretRedacted(t *testing.T) {
	t.Parallel()
	k := verifier.Key{Issuer: "user:1:1", Secret: verifier.Secret(secret64), Active: true}
	for _, s := range []string{
		fmt.Sprint(k.Secret), fmt.Sprintf("%v %+v %#v %s %x %q", k, k, k, k.Secret, k.Secret, k.Secret),
	} {
		if strings.Contains(s, secret64) || strings.Contains(s, "30313233") {
			t.Fatalf("secret printed: %s", s)
		}
	}
}

func TestNewStaticKeysRefusesKeysWithoutUserID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		key     *verifier.Key
		wantErr string // "" for success
	}{
		{"AMO key", &verifier.Key{Issuer: "user:5:1", Secret: verifier.Secret(secret64)}, ""},
		{"user with an id", &verifier.Key{Issuer: "ci-key", Secret: verifier.Secret(secret64), User: &verifier.User{ID: 9}}, ""},
		{"neither", &verifier.Key{Issuer: "ci-key", Secret: verifier.Secret(secret64)}, `key "ci-key" has no user id`},
		{"user without an id", &verifier.Key{Issuer: "user:5:1", Secret: verifier.Secret(secret64), User: &verifier.User{}}, `key "user:5:1": its user has no id`},
		{"negative user id", &verifier.Key{Issuer: "ci-key", Secret: verifier.Secret(secret64), User: &verifier.User{ID: -1}}, "its user has no id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := verifier.NewStaticKeys(tt.key)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			case err != nil && strings.Contains(err.Error(), secret64):
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}
}
