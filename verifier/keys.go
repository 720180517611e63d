package verifier

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrKeyNotFound is what a KeyStore returns from Lookup when no active key has
// that issuer. The verifier answers it with SPEC §3 row 3 (401 "Unknown JWT
// iss (issuer)."); any other Lookup error is a broken store and answers 503
// (SPEC §7).
var ErrKeyNotFound = errors.New("verifier: no such key")

// KeyStore finds the API key named by a token's iss claim.
//
// Lookup returns the key for issuer, ErrKeyNotFound (possibly wrapped) when
// there is none, or any other error when the store cannot answer. It must be
// safe for concurrent use and return within a bounded time. The verifier
// treats a key that is not Active, or whose Secret is empty, as not found
// (SPEC §6). A key whose user id is unknown (Key.UserID is 0) is accepted:
// its principals have UserID 0, which callers must read as unknown, never
// as one user shared by such keys. StaticKeys and KeysFile refuse to hold
// such keys.
type KeyStore interface {
	Lookup(ctx context.Context, issuer string) (*Key, error)
}

// Secret is an HMAC key: the API secret's bytes as written (AMO's 64 hex
// characters are used as 64 ASCII bytes, not decoded; SPEC §1). Its String,
// GoString and Format methods print "[redacted]" so that a Secret never
// reaches a log line or an error by accident.
type Secret []byte

// String returns "[redacted]".
func (Secret) String() string { return "[redacted]" }

// GoString returns "[redacted]".
func (Secret) GoString() string { return "[redacted]" }

// Format prints "[redacted]" for every verb.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[redacted]")) }

// Key is one API key: the credentials AMO calls (JWT issuer, JWT secret).
type Key struct {
	// Issuer is the API key, the value of the iss claim (e.g. "user:543210:23").
	Issuer string
	// Secret is the HMAC-SHA256 key. An empty Secret makes the key unusable.
	Secret Secret
	// Active is false for a revoked key; such a key is treated as unknown
	// (AMO's is_active, SPEC §3 row 3).
	Active bool
	// User is the account the key belongs to, or nil when the store does not
	// know it; then SPEC §3 row 14 is skipped and the user id is parsed from
	// Issuer.
	User *User
}

// User is the account an API key belongs to (SPEC §3 row 14, §8).
type User struct {
	ID       int64  `json:"id"`
	Username string `json:"username,omitempty"`
	Name     string `json:"name,omitempty"`
	Email    string `json:"email,omitempty"`
	// Deleted (or banned) accounts are refused: 401 "User account is disabled.".
	Deleted bool `json:"deleted,omitempty"`
	// ReadDevAgreement is when the user accepted the developer agreement; nil
	// refuses the key: 401 "User has not read developer agreement.".
	ReadDevAgreement *time.Time `json:"read_dev_agreement,omitempty"`
	// Permissions are AMO permission strings, reported by the profile endpoint.
	Permissions []string `json:"permissions,omitempty"`
}

// usable reports whether k can verify a token: active with a non-empty secret.
func (k *Key) usable() bool { return k != nil && k.Active && len(k.Secret) > 0 }

// UserID is the id of the key's user: User.ID when the store knows the user,
// otherwise the <id> of an AMO-style issuer "user:<id>:<n>", otherwise 0
// (unknown).
func (k *Key) UserID() int64 {
	if k.User != nil {
		return k.User.ID
	}
	id, _ := ParseIssuerUserID(k.Issuer)
	return id
}

// ParseIssuerUserID returns the user id of an AMO-style API key
// "user:<id>:<n>" (SPEC §1), and false for any other shape.
func ParseIssuerUserID(issuer string) (int64, bool) {
	rest, ok := strings.CutPrefix(issuer, "user:")
	if !ok {
		return 0, false
	}
	idText, n, ok := strings.Cut(rest, ":")
	if !ok || !allDigits(n) || !allDigits(idText) {
		return 0, false
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id <= 0 {
		return 0, false
	}
	return id, true
}

// allDigits reports whether s is one or more ASCII digits.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// StaticKeys is a KeyStore over a fixed map from issuer to key. The map is
// read-only after construction, so lookups take no lock; the Keys it holds
// must not be changed after NewStaticKeys either (it also keeps each key's
// user id as it was then). To change keys, build a new StaticKeys, or use
// KeysFile.
type StaticKeys struct {
	keys map[string]heldKey
}

// heldKey is a key with what every token of its issuer needs: the secret
// as jwx's HS256 verifier takes it (a []byte in an interface) and the user
// id. StaticKeys makes one per key up front, so that its lookups make none;
// for other key stores the verifier makes one per token.
type heldKey struct {
	key     *Key
	hmacKey any
	userID  int64
}

// NewStaticKeys returns a StaticKeys holding keys. It returns an error that
// names the key, never printing a secret, if two keys share an issuer, an
// issuer is empty, a key has an empty secret (SPEC §6: a key store refuses
// to load it), or a key has no user id: neither a User with a positive ID
// nor an issuer "user:<id>:<n>" (else such keys would all speak for user 0,
// as if they were one account).
func NewStaticKeys(keys ...*Key) (*StaticKeys, error) {
	m := make(map[string]heldKey, len(keys))
	for i, k := range keys {
		switch {
		case k == nil:
			return nil, fmt.Errorf("verifier: key %d is nil", i)
		case k.Issuer == "":
			return nil, fmt.Errorf("verifier: key %d has an empty issuer", i)
		case len(k.Secret) == 0:
			return nil, fmt.Errorf("verifier: key %q has an empty secret", k.Issuer)
		case k.User != nil && k.User.ID <= 0:
			return nil, fmt.Errorf("verifier: key %q: its user has no id (want a positive user.id)", k.Issuer)
		case k.UserID() <= 0:
			return nil, fmt.Errorf("verifier: key %q has no user id: give a user with an id, or name the key user:<id>:<n>", k.Issuer)
		}
		if _, dup := m[k.Issuer]; dup {
			return nil, fmt.Errorf("verifier: key %q appears twice", k.Issuer)
		}
		m[k.Issuer] = heldKey{key: k, hmacKey: []byte(k.Secret), userID: k.UserID()}
	}
	return &StaticKeys{keys: m}, nil
}

// Lookup returns the key for issuer or ErrKeyNotFound. It never fails otherwise.
func (s *StaticKeys) Lookup(_ context.Context, issuer string) (*Key, error) {
	if k, ok := s.keys[issuer]; ok {
		return k.key, nil
	}
	return nil, ErrKeyNotFound
}

// Len is the number of keys held.
func (s *StaticKeys) Len() int { return len(s.keys) }
