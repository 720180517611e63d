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
		{name: "duplicate", json: `{"keys":[{"key":"a","secret":"s"},{"key":"a","secret":"t"}]}`, wantErr: "twice"},
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

func TestErrorIsAndStatus(t *testing.T) {
	t.Parallel()
	cause := errors.New("redis down")
	tests := []struct {
		name   string
		err    *verifier.Error
		is     []error
		status int
	}{
		{name: "expired", err: verifier.NewError(verifier.ReasonExpired, verifier.DetailExpired), is: []error{verifier.ErrExpired}, status: 401},
		{name: "header", err: verifier.NewError(verifier.ReasonHeaderMalformed, verifier.DetailNoCredentials), is: []error{verifier.ErrHeaderMalformed}, status: 401},
		{name: "unavailable", err: &verifier.Error{Reason: verifier.ReasonUnavailable, Detail: verifier.DetailUnavailable, Cause: cause}, is: []error{verifier.ErrUnavailable, cause}, status: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var err error = tt.err
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = false", err, target)
				}
			}
			if errors.Is(err, verifier.ErrReplayed) {
				t.Errorf("%v matches ErrReplayed", err)
			}
			if tt.err.Status() != tt.status {
				t.Errorf("Status = %d, want %d", tt.err.Status(), tt.status)
			}
		})
	}
}
